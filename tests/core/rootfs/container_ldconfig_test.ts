import assert from "node:assert/strict";
import { findContainerLdconfig } from "../../../src/core/rootfs/container_ldconfig.ts";
import { ContainerRootfs } from "../../../src/core/rootfs/container_rootfs.ts";
import { withTempDir, writeTree } from "../../helpers/temp_dir.ts";

Deno.test("findContainerLdconfig looks inside the rootfs only", async (t) => {
  const cases: {
    name: string;
    input: {
      tree: Record<string, string | { link: string } | { dir: true }>;
      executable: string[];
    };
    expected: string | undefined;
  }[] = [
    {
      // The host has /sbin/ldconfig: finding nothing proves the host is not consulted.
      name: "image without ldconfig",
      input: {
        tree: { "/etc/os-release": "ID=busybox\n", "/sbin": { dir: true } },
        executable: [],
      },
      expected: undefined,
    },
    {
      name: "executable /usr/sbin/ldconfig",
      input: {
        tree: { "/usr/sbin/ldconfig": "#!/bin/true\n" },
        executable: ["/usr/sbin/ldconfig"],
      },
      expected: "/usr/sbin/ldconfig",
    },
    {
      name: "a non-executable file is ignored",
      input: { tree: { "/sbin/ldconfig": "not a program\n" }, executable: [] },
      expected: undefined,
    },
    {
      name: "a non-executable /sbin/ldconfig falls through to /usr/sbin/ldconfig",
      input: {
        tree: { "/sbin/ldconfig": "not a program\n", "/usr/sbin/ldconfig": "#!/bin/true\n" },
        executable: ["/usr/sbin/ldconfig"],
      },
      expected: "/usr/sbin/ldconfig",
    },
    {
      name: "/sbin/ldconfig -> /usr/sbin/ldconfig.real resolved inside the rootfs",
      input: {
        tree: {
          "/sbin/ldconfig": { link: "/usr/sbin/ldconfig.real" },
          "/usr/sbin/ldconfig.real": "#!/bin/true\n",
        },
        executable: ["/usr/sbin/ldconfig.real"],
      },
      expected: "/sbin/ldconfig",
    },
    {
      name: "merged /usr: /sbin -> usr/sbin",
      input: {
        tree: { "/sbin": { link: "usr/sbin" }, "/usr/sbin/ldconfig": "#!/bin/true\n" },
        executable: ["/usr/sbin/ldconfig"],
      },
      expected: "/sbin/ldconfig",
    },
    {
      // Followed on the host, this link would reach the host's /usr/sbin/ldconfig.
      name: "a link to a program the image lacks is not found",
      input: { tree: { "/sbin/ldconfig": { link: "/usr/sbin/ldconfig" } }, executable: [] },
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withTempDir((rootfs) => {
        writeTree(rootfs, c.input.tree);
        for (const path of c.input.executable) Deno.chmodSync(rootfs + path, 0o755);
        assert.equal(ContainerRootfs.with(rootfs, findContainerLdconfig), c.expected);
      });
    });
  }
});
