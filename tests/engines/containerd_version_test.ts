/**
 * The config version a new containerd config file gets: parsed from `containerd --version` as
 * each packaging prints it, and the fallback when containerd cannot be asked.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  chooseConfigVersion,
  parseContainerdVersion,
  versionArgv,
} from "../../src/engines/containerd_version.ts";

Deno.test("parseContainerdVersion: the lines containerd packagings print", async (t) => {
  const cases: { name: string; text: string; expected: [number, number] | undefined }[] = [
    {
      name: "Debian 12 (1.6)",
      text: "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u1\n",
      expected: [1, 6],
    },
    {
      name: "Debian 13 (1.7)",
      text: "containerd github.com/containerd/containerd 1.7.24~ds1 1.7.24~ds1-6+deb13u1\n",
      expected: [1, 7],
    },
    {
      name: "Debian unstable (2.1, module path /v2)",
      text: "containerd github.com/containerd/containerd/v2 2.1.9+unknown \n",
      expected: [2, 1],
    },
    {
      name: "upstream release (v prefix, commit)",
      text: "containerd containerd.io v2.0.4 1a43cb6a1035441f9aca8f5666a9b3ef9e70ab20\n",
      expected: [2, 0],
    },
    { name: "something else", text: "bash: containerd: command not found\n", expected: undefined },
  ];
  for (const c of cases) {
    await t.step(c.name, () => deepStrictEqual(parseContainerdVersion(c.text), c.expected));
  }
});

Deno.test("chooseConfigVersion: 3 for 2.x, 2 for 1.x and for an unknown containerd", async (t) => {
  const argv = versionArgv(undefined);
  await t.step("2.1 reads version 3", () => {
    const choice = chooseConfigVersion(argv, {
      code: 0,
      stdout: "containerd github.com/containerd/containerd/v2 2.1.9+unknown \n",
      stderr: "",
    });
    strictEqual(choice.configVersion, 3);
    strictEqual(
      choice.note,
      "No containerd config file: writing config version 3, which the installed containerd " +
        "2.1 reads",
    );
  });
  await t.step("1.7 refuses version 3: 2", () => {
    const choice = chooseConfigVersion(argv, {
      code: 0,
      stdout: "containerd github.com/containerd/containerd 1.7.24~ds1 1.7.24~ds1-6\n",
      stderr: "",
    });
    strictEqual(choice.configVersion, 2);
  });
  await t.step("not installed: 2, and why", () => {
    const choice = chooseConfigVersion(argv, { error: "No such file or directory (os error 2)" });
    strictEqual(choice.configVersion, 2);
    ok(choice.note.includes('"containerd --version" could not run: No such file'), choice.note);
    ok(choice.note.includes("which containerd 1.6, 1.7 and 2.x read"), choice.note);
  });
  await t.step("a failing binary: 2, with its last stderr line", () => {
    const choice = chooseConfigVersion(versionArgv("/host"), {
      code: 127,
      stdout: "",
      stderr: "chroot: failed to run command 'containerd': No such file or directory\n",
    });
    strictEqual(choice.configVersion, 2);
    ok(
      choice.note.includes(
        `"chroot /host containerd --version" did not print a version: chroot: failed to run`,
      ),
      choice.note,
    );
  });
  await t.step("the host root / needs no chroot", () => {
    deepStrictEqual(versionArgv("/"), ["containerd", "--version"]);
  });
});
