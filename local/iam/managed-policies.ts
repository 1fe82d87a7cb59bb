/**
 * The AWS-managed policies the stack attaches (to CDK's own helper roles), by name, with the
 * statements AWS publishes for them. A role naming any other managed policy is refused at load:
 * its grants would be unknown here.
 */

export const AWS_MANAGED_POLICIES: Readonly<Record<string, unknown>> = {
  // The bucket-notifications helper function's role.
  AWSLambdaBasicExecutionRole: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: '*',
      },
    ],
  },
  // The role API Gateway writes its execution and access logs with.
  AmazonAPIGatewayPushToCloudWatchLogs: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'logs:CreateLogGroup',
          'logs:CreateLogStream',
          'logs:DescribeLogGroups',
          'logs:DescribeLogStreams',
          'logs:PutLogEvents',
          'logs:GetLogEvents',
          'logs:FilterLogEvents',
        ],
        Resource: '*',
      },
    ],
  },
};

/** The name of an AWS-managed policy from its ARN (`arn:aws:iam::aws:policy/service-role/X`). */
export function awsManagedPolicyName(arn: string): string | undefined {
  return /^arn:[a-z-]+:iam::aws:policy\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]+)$/.exec(arn)?.[1];
}
