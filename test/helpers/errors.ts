import { expect } from "vitest";
import { FerryError } from "../../src/errors.js";

/** The FerryError a promise rejects with (the test fails if it resolves or throws anything else). */
export async function errorOf(promise: Promise<unknown>): Promise<FerryError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(FerryError);
    return error as FerryError;
  }
  throw new Error("expected a FerryError");
}

/** The FerryError `action` throws (the test fails if it returns or throws anything else). */
export function errorOfSync(action: () => unknown): FerryError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(FerryError);
    return error as FerryError;
  }
  throw new Error("expected a FerryError");
}
