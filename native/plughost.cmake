# plughost.cmake: the cmake-js equivalent of plughost.gypi.
#
#   include(${PLUGHOST_DIR}/native/plughost.cmake)
#   plughost_add_plugin(<name> SOURCES <src>... [CXX])
#
# Creates the module library <name>.node with plughost's header, the stamped
# build ID, a pinned Node-API version and the flags every plugin needs. CXX
# marks a node-addon-api plugin (plughost.hpp), which needs C++ exceptions.
#
# Set NAPI_VERSION before calling (or pass --CDNAPI_VERSION=<n> to cmake-js)
# to target another Node-API version; the default is 8.
include_guard(GLOBAL)

# Resolved from this file, not from the plugin, so it works both in the
# plughost checkout and from node_modules/plughost.
get_filename_component(PLUGHOST_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

find_program(PLUGHOST_NODE NAMES node nodejs REQUIRED)

# One build-ID implementation for node-gyp, cmake-js and the TypeScript
# build, so the host and its plugins can never disagree. It honours the
# PLUGHOST_BUILD_ID environment variable. Evaluated at configure time only,
# so use `cmake-js rebuild` (not `build`) after changing it or the commit.
execute_process(
  COMMAND "${PLUGHOST_NODE}" -p "require('plughost/native/build-id.cjs').resolveBuildId()"
  WORKING_DIRECTORY "${PLUGHOST_ROOT}"
  RESULT_VARIABLE _plughost_rc
  OUTPUT_VARIABLE PLUGHOST_BUILD_ID
  ERROR_VARIABLE _plughost_err
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _plughost_rc EQUAL 0 OR PLUGHOST_BUILD_ID STREQUAL "")
  # Show the script's own message rather than node's stack trace.
  string(REGEX MATCH "Error: [^\n]*" _plughost_msg "${_plughost_err}")
  if(NOT _plughost_msg)
    set(_plughost_msg "${_plughost_err}")
  endif()
  message(FATAL_ERROR "plughost: cannot resolve the build ID with ${PLUGHOST_ROOT}/native/build-id.cjs: ${_plughost_msg}")
endif()
# Re-configure when the script itself changes.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${PLUGHOST_ROOT}/native/build-id.cjs")

# node-addon-api's include_dir is relative to the working directory; resolve
# it from plughost, whose dependency plughost.hpp is written against.
execute_process(
  COMMAND "${PLUGHOST_NODE}" -p "require('node-addon-api').include_dir"
  WORKING_DIRECTORY "${PLUGHOST_ROOT}"
  RESULT_VARIABLE _plughost_rc
  OUTPUT_VARIABLE _plughost_napi_inc
  ERROR_VARIABLE _plughost_err
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _plughost_rc EQUAL 0)
  message(FATAL_ERROR "plughost: node-addon-api not found from ${PLUGHOST_ROOT}:\n${_plughost_err}")
endif()
get_filename_component(PLUGHOST_NAPI_INCLUDE "${_plughost_napi_inc}" ABSOLUTE BASE_DIR "${PLUGHOST_ROOT}")

# Node 20 crashes on a plugin declaring Node-API >= 10, so the version must be
# chosen here rather than inherited from the headers; cmake-js 8 does not
# define it even for napi_versions projects.
if(NOT DEFINED NAPI_VERSION)
  set(NAPI_VERSION 8)
endif()

function(plughost_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "CXX" "" "SOURCES")
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "plughost_add_plugin(${name}): no SOURCES")
  endif()

  add_library(${name} MODULE ${ARG_SOURCES} ${CMAKE_JS_SRC})
  # Node loads <name>.node; the host finds the plugin by that file name.
  set_target_properties(${name} PROPERTIES PREFIX "" SUFFIX ".node")
  target_include_directories(${name} PRIVATE "${PLUGHOST_ROOT}/native/include" ${CMAKE_JS_INC} "${PLUGHOST_NAPI_INCLUDE}")
  target_link_libraries(${name} PRIVATE ${CMAKE_JS_LIB})
  target_compile_definitions(${name} PRIVATE
    "NAPI_VERSION=${NAPI_VERSION}"
    "PLUGHOST_BUILD_ID=\"${PLUGHOST_BUILD_ID}\"")

  # Hidden visibility: the only symbol Node needs is the module init, which
  # NAPI_MODULE_INIT exports explicitly.
  target_compile_options(${name} PRIVATE
    -Wall -Wextra -Werror -fvisibility=hidden
    $<$<COMPILE_LANGUAGE:CXX>:-fvisibility-inlines-hidden>)

  if(ARG_CXX)
    # plughost.hpp's guard turns C++ exceptions into JS errors; without
    # exceptions node-addon-api would abort the process instead.
    target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-fexceptions>)
    target_compile_definitions(${name} PRIVATE NAPI_CPP_EXCEPTIONS)
    set_target_properties(${name} PROPERTIES LINKER_LANGUAGE CXX)
    # plughost.hpp uses inline variables.
    target_compile_features(${name} PRIVATE cxx_std_17)
  endif()

  if(UNIX AND NOT APPLE)
    # Bind the plugin's own symbols locally so another plugin (or the host)
    # exporting the same name cannot interpose on them.
    target_link_options(${name} PRIVATE -Wl,-Bsymbolic)
  endif()
endfunction()
