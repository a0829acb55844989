import { familiarRepository, parseReference } from "../types/reference.js";

/** `alpine:3.19`, `team/app:1`, `mcr.microsoft.com/windows/nanoserver:ltsc2022` — docker's names. */
export function dockerRepoTag(name: string): string | undefined {
  const ref = parseReference(name, { defaultTag: false });
  return ref.tag ? `${familiarRepository(ref)}:${ref.tag}` : undefined;
}
