# plughost's node-gyp build: the example plugins that build with node-gyp.
# (Plugins that build with cmake-js have a CMakeLists.txt in their own folder.)
{
  'targets': [
    {
      'target_name': 'crc32',
      'includes': ['native/plughost.gypi'],
      'sources': ['plugins-native/crc32/crc32.c'],
    },
  ],
}
