/**
 * The CDI spec document model: the types a parsed and validated spec file has. Parsing and
 * validation live in `cdi_spec.ts`, the version rules in `cdi_version.ts`.
 *
 * @module
 */

/** A device node edit. */
export interface CdiDeviceNode {
  path: string;
  hostPath?: string;
  type?: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  permissions?: string;
  uid?: number;
  gid?: number;
}

/** A mount edit. */
export interface CdiMount {
  hostPath: string;
  containerPath: string;
  options?: string[];
  type?: string;
}

/** A hook edit. */
export interface CdiHook {
  hookName: string;
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** Intel RDT settings. */
export interface CdiIntelRdt {
  closID?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
  schemata?: string[];
  enableMonitoring?: boolean;
  enableCMT?: boolean;
  enableMBM?: boolean;
}

/** A network device to move into the container. */
export interface CdiNetDevice {
  hostInterfaceName: string;
  name: string;
}

/** Container edits. */
export interface CdiEdits {
  env?: string[];
  deviceNodes?: CdiDeviceNode[];
  hooks?: CdiHook[];
  mounts?: CdiMount[];
  intelRdt?: CdiIntelRdt;
  additionalGids?: number[];
  netDevices?: CdiNetDevice[];
}

/** One device of a spec. */
export interface CdiDevice {
  name: string;
  annotations?: Record<string, string>;
  containerEdits: CdiEdits;
}

/** A CDI spec file's content. */
export interface CdiSpec {
  cdiVersion: string;
  kind: string;
  annotations?: Record<string, string>;
  devices: CdiDevice[];
  containerEdits?: CdiEdits;
}
