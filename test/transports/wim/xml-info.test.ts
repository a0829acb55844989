import { describe, expect, it } from "vitest";
import {
  filetimeToIso,
  parseWimXml,
  parseWimXmlText,
} from "../../../src/transports/wim/xml-info.js";
import { decodeXmlEntities } from "../../../src/transports/wim/xml-parser.js";
import { legacyFullName, wimImageRefName } from "../../../src/types/wim.js";
import { errorOfSync } from "../../helpers/errors.js";

/** UTF-16LE bytes with a BOM, as WIMs store their XML. */
function utf16(text: string): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
}

const NANO_SERVER = `<WIM><TOTALBYTES>123456</TOTALBYTES>
<IMAGE INDEX="1">
  <DIRCOUNT>2</DIRCOUNT><FILECOUNT>5</FILECOUNT><TOTALBYTES>3006</TOTALBYTES>
  <CREATIONTIME><HIGHPART>0x01D1E3C2</HIGHPART><LOWPART>0x4E8E1A00</LOWPART></CREATIONTIME>
  <WINDOWS>
    <PRODUCTNAME>Microsoft&#xAE; Windows&#174; Operating System</PRODUCTNAME>
    <EDITIONID>ServerDatacenterNano</EDITIONID>
    <INSTALLATIONTYPE>Nano Server</INSTALLATIONTYPE>
    <VERSION><SPBUILD>1010</SPBUILD><BUILD>14300</BUILD><MINOR>0</MINOR><MAJOR>10</MAJOR></VERSION>
    <ARCH>9</ARCH>
  </WINDOWS>
  <NAME>NanoServer</NAME>
  <DESCRIPTION>Nano &amp; &lt;small&gt; &quot;server&quot; &apos;x&apos;</DESCRIPTION>
  <FLAGS>ServerDatacenterNano</FLAGS>
  <DISPLAYNAME>Nano Server</DISPLAYNAME>
  <DISPLAYDESCRIPTION><![CDATA[a <raw> & section]]></DISPLAYDESCRIPTION>
</IMAGE>
<IMAGE INDEX="2"><NAME>UtilityVM</NAME><WINDOWS><ARCH>12</ARCH></WINDOWS></IMAGE>
</WIM>`;

describe("parseWimXml", () => {
  it("reads every field by name, whatever the element order", () => {
    const info = parseWimXml(utf16(`<?xml version="1.0"?><!-- c -->${NANO_SERVER}`), "n.wim");
    expect(info.totalBytes).toBe(123456);
    expect(info.images).toEqual([
      {
        index: 1,
        name: "NanoServer",
        description: `Nano & <small> "server" 'x'`,
        displayName: "Nano Server",
        displayDescription: "a <raw> & section",
        flags: "ServerDatacenterNano",
        architecture: "amd64",
        archCode: 9,
        version: "10.0.14300.1010",
        productName: "Microsoft® Windows® Operating System",
        editionId: "ServerDatacenterNano",
        installationType: "Nano Server",
        totalBytes: 3006,
        dirCount: 2,
        fileCount: 5,
        creationTime: "2016-07-22T02:39:45.155Z",
      },
      { index: 2, name: "UtilityVM", architecture: "arm64", archCode: 12 },
    ]);
  });

  it("maps every known architecture and keeps unknown codes without a name", () => {
    const arch = (code: string) =>
      parseWimXmlText(
        `<WIM><IMAGE INDEX="1"><WINDOWS><ARCH>${code}</ARCH></WINDOWS></IMAGE></WIM>`,
        "a",
      ).images[0];
    expect(arch("0")?.architecture).toBe("386");
    expect(arch("5")?.architecture).toBe("arm");
    expect(arch("9")?.architecture).toBe("amd64");
    expect(arch("12")?.architecture).toBe("arm64");
    expect(arch("6")).toEqual({ index: 1, archCode: 6 });
  });

  it("reports no version without MAJOR and defaults the other parts to 0", () => {
    const version = (inner: string) =>
      parseWimXmlText(
        `<WIM><IMAGE INDEX="1"><WINDOWS><VERSION>${inner}</VERSION></WINDOWS></IMAGE></WIM>`,
        "v",
      ).images[0]?.version;
    expect(version("<MINOR>0</MINOR><BUILD>14300</BUILD>")).toBeUndefined();
    expect(version("<MAJOR>10</MAJOR><MINOR>0</MINOR><BUILD>17763</BUILD>")).toBe("10.0.17763.0");
    expect(version("<MAJOR> 6 </MAJOR>")).toBe("6.0.0.0");
  });

  it("names the version parts it took as 0", () => {
    const image = (inner: string) =>
      parseWimXmlText(
        `<WIM><IMAGE INDEX="1"><WINDOWS><VERSION>${inner}</VERSION></WINDOWS></IMAGE></WIM>`,
        "v",
      ).images[0];
    expect(image("<MAJOR>10</MAJOR>")?.versionPartsMissing).toEqual(["MINOR", "BUILD", "SPBUILD"]);
    expect(
      image("<MAJOR>10</MAJOR><MINOR>0</MINOR><BUILD>17763</BUILD>")?.versionPartsMissing,
    ).toEqual(["SPBUILD"]);
    const full = image("<MAJOR>10</MAJOR><MINOR>0</MINOR><BUILD>17763</BUILD><SPBUILD>1</SPBUILD>");
    expect(full).toEqual({ index: 1, version: "10.0.17763.1" });
    expect(image("<MINOR>0</MINOR>")).toEqual({ index: 1 });
  });

  it("refuses version and architecture values that are not numbers", () => {
    const bad = `<WIM><IMAGE INDEX="1"><WINDOWS><VERSION><MAJOR>10;rm</MAJOR></VERSION></WINDOWS></IMAGE></WIM>`;
    const error = errorOfSync(() => parseWimXmlText(bad, "v.wim"));
    expect(error.code).toBe("EBADWIM");
    expect(error.message).toContain("v.wim: image 1: WINDOWS/VERSION/MAJOR is not a whole number");
    const arch = `<WIM><IMAGE INDEX="1"><WINDOWS><ARCH>amd64</ARCH></WINDOWS></IMAGE></WIM>`;
    expect(errorOfSync(() => parseWimXmlText(arch, "a.wim")).message).toContain("WINDOWS/ARCH");
  });

  it("orders images by INDEX and refuses duplicate or bad indexes", () => {
    const info = parseWimXmlText(
      `<WIM><IMAGE INDEX="2"><NAME>b</NAME></IMAGE><IMAGE INDEX="1"><NAME>a</NAME></IMAGE></WIM>`,
      "o",
    );
    expect(info.images.map((image) => image.name)).toEqual(["a", "b"]);
    expect(
      errorOfSync(() => parseWimXmlText(`<WIM><IMAGE INDEX="1"/><IMAGE INDEX="1"/></WIM>`, "d"))
        .message,
    ).toContain("two images have INDEX 1");
    expect(
      errorOfSync(() => parseWimXmlText(`<WIM><IMAGE INDEX="x"/></WIM>`, "d")).message,
    ).toContain('bad INDEX ("x")');
  });

  it("reads a WIM with no images and no TOTALBYTES", () => {
    expect(parseWimXmlText("<WIM/>", "e")).toEqual({ images: [] });
    expect(parseWimXml(Buffer.from("<WIM></WIM>", "utf16le"), "no-bom")).toEqual({ images: [] });
  });

  const malformed: [string, string, RegExp][] = [
    ["unbalanced tags", "<WIM><IMAGE><NAME>x</IMAGE></WIM>", /<\/IMAGE> does not match <NAME>/],
    ["an unclosed root", "<WIM><IMAGE></IMAGE>", /<WIM> is never closed/],
    ["a stray end tag", "<WIM></WIM></IMAGE>", /without a start tag/],
    ["another root", "<IMAGES><IMAGE/></IMAGES>", /root element is <IMAGES>, expected <WIM>/],
    ["no root", "  ", /no root element/],
    ["two roots", "<WIM/><WIM/>", /second root element/],
    ["text outside the root", "<WIM/>junk", /text outside the root/],
    ["an unknown entity", "<WIM><IMAGE><NAME>&bogus;</NAME></IMAGE></WIM>", /unknown entity/],
    ["a bare ampersand", "<WIM><IMAGE><NAME>a & b</NAME></IMAGE></WIM>", /unterminated entity/],
    ["a DOCTYPE", '<!DOCTYPE WIM [<!ENTITY x "y">]><WIM/>', /DOCTYPE/],
    ["an unquoted attribute", "<WIM><IMAGE INDEX=1/></WIM>", /not quoted/],
    ["an unterminated tag", "<WIM><IMAGE INDEX='1'", /unterminated/],
    ["an unterminated comment", "<WIM><!-- x </WIM>", /unterminated comment/],
  ];
  for (const [what, text, expected] of malformed) {
    it(`refuses XML with ${what}`, () => {
      const error = errorOfSync(() => parseWimXml(utf16(text), "/share/bad.wim"));
      expect(error.code).toBe("EBADWIM");
      expect(error.message).toContain("/share/bad.wim");
      expect(error.message).toMatch(expected);
    });
  }

  it("refuses bytes that are not UTF-16LE", () => {
    const lone = Buffer.concat([utf16("<WIM><NAME>"), Buffer.from([0x00, 0xd8]), utf16("</WIM>")]);
    expect(errorOfSync(() => parseWimXml(lone, "u.wim")).message).toContain("not valid UTF-16LE");
    expect(
      errorOfSync(() => parseWimXml(Buffer.from([0xff, 0xfe, 0x3c]), "o.wim")).message,
    ).toContain("odd number of bytes");
    expect(errorOfSync(() => parseWimXml(utf16("<WIM>\0</WIM>"), "z.wim")).message).toContain(
      "NUL",
    );
  });
});

describe("XML helpers", () => {
  it("decodes named and numeric entities", () => {
    expect(decodeXmlEntities("&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#x1F600;", "e")).toBe(
      `&<>"'AB😀`,
    );
    expect(() => decodeXmlEntities("&#0;", "e")).toThrow(/unknown entity/);
    expect(() => decodeXmlEntities("&#xD800;", "e")).toThrow(/unknown entity/);
  });

  it("converts FILETIME words to ISO dates", () => {
    expect(filetimeToIso("0x019DB1DE", "0xD53E8000")).toBe("1970-01-01T00:00:00.000Z");
    expect(filetimeToIso("0x01DD7EF6", "0x74029B8A")).toMatch(/^2026-/);
    expect(filetimeToIso("nope", "0x0")).toBeUndefined();
  });
});

describe("WIM image names", () => {
  it("builds the legacy full name and the ferry reference", () => {
    expect(legacyFullName("NanoServer", "10.0.14300.1010")).toBe(
      "CN=Microsoft_NanoServer_10.0.14300.1010",
    );
    expect(wimImageRefName("NanoServer", "10.0.14300.1010")).toBe("nanoserver:10.0.14300.1010");
    expect(wimImageRefName("Windows Server Core", "10.0.17763.1")).toBe(
      "windowsservercore:10.0.17763.1",
    );
  });
});
