'use strict';
// The file name of the native addon for this platform, as `napi build --platform` names it:
// rtio.<platform>-<arch>[-<abi>].node (e.g. rtio.linux-x64-gnu.node).

function isMusl() {
  if (process.platform !== 'linux') return false;
  try {
    const report = process.report && process.report.getReport();
    const header = report && (typeof report === 'string' ? JSON.parse(report) : report).header;
    return !(header && header.glibcVersionRuntime);
  } catch {
    return false;
  }
}

function platformSuffix() {
  const { platform, arch } = process;
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function addonFileName() {
  return `rtio.${platformSuffix()}.node`;
}

module.exports = { addonFileName, platformSuffix };
