/**
 * `xpu-container-cli info` and `list`: what the host has, as text for people and JSON for
 * machines.
 *
 * @module
 */

import type { DeviceNode, DriverFile, HostDevices } from "../core/device/device_discovery.ts";

/** Everything `info` reports. */
export interface HostReport extends HostDevices {
  profile: string;
  driverVersion?: string;
  driverFiles: DriverFile[];
}

function describeNode(node: DeviceNode): string {
  return `${node.path} (${node.type} ${node.major}:${node.minor})`;
}

/** The `info` text. */
export function renderInfo(report: HostReport): string {
  const lines = [
    `Profile: ${report.profile}`,
    `Driver version: ${report.driverVersion ?? "unknown"}`,
    `Devices: ${report.devices.length}`,
  ];
  for (const device of report.devices) {
    const identity = [device.uuid ?? "no UUID", device.name].filter((p) => p !== undefined);
    lines.push(
      `  XPU ${device.index}: ${identity.join(", ")}: ${device.nodes.map(describeNode).join(", ")}`,
    );
  }
  lines.push(
    `Control nodes: ${
      report.controlNodes.length === 0 ? "none" : report.controlNodes.map(describeNode).join(", ")
    }`,
    `Driver files: ${report.driverFiles.length}`,
  );
  for (const file of report.driverFiles) {
    lines.push(`  ${file.path} (${file.capabilities.join(", ")})`);
  }
  return lines.join("\n") + "\n";
}

/** The `info --json` document. */
export function infoJson(report: HostReport): unknown {
  return {
    profile: report.profile,
    driverVersion: report.driverVersion ?? null,
    devices: report.devices.map((d) => ({
      index: d.index,
      uuid: d.uuid ?? null,
      name: d.name ?? null,
      nodes: d.nodes.map(nodeJson),
    })),
    controlNodes: report.controlNodes.map(nodeJson),
    driverFiles: report.driverFiles.map((f) => ({ path: f.path, capabilities: f.capabilities })),
  };
}

function nodeJson(node: DeviceNode) {
  return { path: node.path, type: node.type, major: node.major, minor: node.minor };
}

/** The `list` text: one path per line, device nodes first. */
export function renderList(nodes: readonly DeviceNode[], files: readonly DriverFile[]): string {
  return [...nodes.map((n) => n.path), ...files.map((f) => f.path)].map((p) => p + "\n").join("");
}
