/**
 * The variable names and readers of `shared/contracts/`, under the names the functions have
 * always imported. A setting is declared in `shared/contracts/environment.ts`, not here.
 */
import {
  ImageCopySettings,
  imageInsecureOrigins,
  PollingSettings,
  ReconcilerSettings,
  Resources,
  SlotSettings,
  SparkSettings,
} from '#shared/contracts/environment.ts';

import { envNames } from '#shared/contracts/setting.ts';

export {
  ConfigurationError,
  envBoolean,
  envInt,
  envNumber,
  readEnv,
} from '#shared/contracts/setting.ts';

/** Variables shared by more than one function. */
export const EnvNames = {
  generationsTable: Resources.generationsTable.env,
  imagesBucket: Resources.imagesBucket.env,
  inputBucket: Resources.inputBucket.env,
  stateMachineArn: Resources.stateMachineArn.env,
  eventBusName: Resources.eventBusName.env,
  sparkBaseUrl: SparkSettings.baseUrl.env,
  sparkCreatePath: SparkSettings.createPath.env,
  sparkTaskPath: SparkSettings.taskPath.env,
  sparkApiKeySecret: SparkSettings.apiKeySecret.env,
  sparkRequestTimeoutMs: SparkSettings.requestTimeoutMs.env,
  slotsTable: SlotSettings.slotsTable.env,
  maxConcurrentTasks: SlotSettings.maxConcurrentTasks.env,
  maxExecutionSeconds: ReconcilerSettings.maxExecutionSeconds.env,
} as const;

/** The polling variables' names, by setting. */
export const PollingEnv = envNames(PollingSettings);

/** The image copy's variables' names. */
export const CopyEnv = {
  ...envNames(ImageCopySettings),
  insecureOrigins: imageInsecureOrigins.env,
} as const;
