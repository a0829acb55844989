/**
 * types/text-file.ts and types/windows-names.ts: text as Windows tools write it, and the file
 * names Windows keeps for devices (checked as on Windows through the platform parameter).
 */
import { describe, expect, it } from "vitest";
import { fileNameOfUrl } from "../../src/transports/wim/download.js";
import {
  decodeTextFile,
  hasSuffix,
  looksLikeJsonText,
  textLines,
} from "../../src/types/text-file.js";
import {
  refuseReservedOutput,
  reservedInputProblem,
  windowsDeviceName,
} from "../../src/types/windows-names.js";

describe("decodeTextFile", () => {
  const text = 'images:\n  - "ü"\n';
  it("reads UTF-8 with and without a BOM, UTF-16 LE and BE with theirs", () => {
    expect(decodeTextFile(Buffer.from(text))).toBe(text);
    expect(
      decodeTextFile(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])),
    ).toBe(text);
    expect(
      decodeTextFile(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")])),
    ).toBe(text);
    const be = Buffer.from(text, "utf16le").swap16();
    expect(decodeTextFile(Buffer.concat([Buffer.from([0xfe, 0xff]), be]))).toBe(text);
  });

  it("tells JSON through a BOM or UTF-16", () => {
    expect(looksLikeJsonText(Buffer.from('{"a":1}'))).toBe(true);
    expect(looksLikeJsonText(Buffer.from('\ufeff{"a":1}'))).toBe(true);
    expect(
      looksLikeJsonText(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("{", "utf16le")])),
    ).toBe(true);
    expect(looksLikeJsonText(Buffer.from("PK\u0003\u0004"))).toBe(false);
  });

  it("splits lines at LF and CRLF", () => {
    expect(textLines("a\r\nb\nc\r\n")).toEqual(["a", "b", "c"]);
    expect(textLines("a")).toEqual(["a"]);
  });

  it("matches suffixes in any case", () => {
    expect(hasSuffix("NIGHTLY.ZIP.PARTS", ".parts")).toBe(true);
    expect(hasSuffix("signer.Pub", ".pub")).toBe(true);
    expect(hasSuffix("parts", ".parts")).toBe(false);
  });
});

describe("names Windows reserves for devices", () => {
  it("knows them in any case, with any extension and trailing dots or spaces", () => {
    for (const name of [
      "CON.wim",
      "aux.zip",
      "Nul",
      "com1.tar.gz",
      "LPT9.parts",
      "con .zip",
      "COM¹.zip",
    ]) {
      expect(windowsDeviceName(name), name).toBeDefined();
    }
    for (const name of ["console.zip", "con-images.zip", "com10.zip", "auxiliary", "nightly.zip"]) {
      expect(windowsDeviceName(name), name).toBeUndefined();
    }
  });

  it("refuses them as outputs everywhere, by their last component (either separator)", () => {
    expect(() => refuseReservedOutput("/media/usb/aux.zip")).toThrow(
      /Windows reserves the name AUX/,
    );
    expect(() => refuseReservedOutput("E:\\CON.wim")).toThrow(/Windows reserves the name CON/);
    expect(() => refuseReservedOutput("/aux/nightly.zip")).not.toThrow();
  });

  it("names the problem of such an input on Windows only", () => {
    expect(reservedInputProblem("D:\\images\\CON.wim", "win32")).toMatch(
      /CON\.wim: Windows reserves the name CON/,
    );
    expect(reservedInputProblem("/media/usb/CON.wim", "linux")).toBeUndefined();
  });

  it("a URL's file name that Windows reserves is not used for the download's temp file", () => {
    expect(fileNameOfUrl("https://downloads.example/images/CON.wim")).toBe("download.wim");
    expect(fileNameOfUrl("https://downloads.example/images/NanoServer.wim")).toBe("NanoServer.wim");
  });
});
