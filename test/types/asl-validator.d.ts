declare module 'asl-validator' {
  interface AslValidationResult {
    readonly isValid: boolean;
    readonly errors: ReadonlyArray<Record<string, unknown>>;
    errorsText(separator?: string): string;
  }
  export default function validator(
    definition: unknown,
    options?: Record<string, unknown>,
  ): AslValidationResult;
}
