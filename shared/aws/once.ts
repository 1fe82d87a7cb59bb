/** A value made on first use, then kept for the life of the process (one client per process). */
export function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}
