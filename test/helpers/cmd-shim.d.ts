/** npm's shim generator (devDependency, for test/cli/package.test.ts); it ships no types. */
declare module "cmd-shim" {
  /** Write `to` (sh), `to.cmd` and `to.ps1`, each running the program `from` names. */
  export default function cmdShim(from: string, to: string): Promise<void>;
}
