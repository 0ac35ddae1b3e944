# Include from a plugin's target to get plughost's header, the stamped build
# ID, a pinned Node-API version and the flags every plughost plugin needs.
# Paths are relative to this file, so it works from any binding.gyp.
{
  'variables': {
    # Override per target or with `node-gyp rebuild -- -Dplughost_build_id=...`.
    'plughost_napi_version%': '8',
    'plughost_build_id%': '<!(node -p "require(\'plughost/native/build-id.cjs\').resolveBuildId()")',
  },
  'include_dirs': [
    'include',
    '<!(node -p "require(\'node-addon-api\').include_dir")',
  ],
  'defines': [
    'NAPI_VERSION=<(plughost_napi_version)',
    'PLUGHOST_BUILD_ID="<(plughost_build_id)"',
  ],
  'cflags': ['-Wall', '-Wextra', '-Werror', '-fvisibility=hidden', '-O3'],
  'cflags_cc': ['-Wall', '-Wextra', '-Werror', '-fvisibility=hidden', '-O3'],
  'ldflags': ['-Wl,-Bsymbolic'],
  'xcode_settings': {
    'GCC_SYMBOLS_PRIVATE_EXTERN': 'YES',
    'OTHER_CFLAGS': ['-Wall', '-Wextra', '-Werror'],
  },
}
