import { describe, expect, it } from "vitest";
import { EXIT_CODES, FerryError, fromSystemError, IntegrityError } from "../src/errors.js";

describe("FerryError", () => {
  it("maps codes to documented exit codes", () => {
    expect(new FerryError("EUSAGE", "x").exitCode).toBe(EXIT_CODES.USAGE);
    expect(new IntegrityError("blob x", "sha256:a", "sha256:b").exitCode).toBe(
      EXIT_CODES.INTEGRITY,
    );
  });

  it("keeps expected and found values of an integrity failure", () => {
    const error = new IntegrityError("blob x", "sha256:a", "sha256:b");
    expect(error.code).toBe("EINTEGRITY");
    expect(error.details).toMatchObject({ expected: "sha256:a", found: "sha256:b" });
    expect(error.message).toContain("blob x");
  });

  it("turns ENOSPC into a named, typed error", () => {
    const cause = Object.assign(new Error("nope"), { code: "ENOSPC" });
    const error = fromSystemError(cause, "/store/blobs", "writing");
    expect(error.code).toBe("ENOSPC");
    expect(error.message).toContain("/store/blobs");
    expect(error.hint).toBeDefined();
  });
});
