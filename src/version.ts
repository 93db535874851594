/** lode's version, printed by `lode --version` and recorded in manifests as `produced_by`. */
export const VERSION = "0.1.0";
