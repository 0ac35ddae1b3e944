#include "plughost.h"
static napi_value noop(napi_env env, napi_callback_info info) { (void)env; (void)info; return NULL; }
static const plughost_method methods[] = {{"noop", noop}};
PLUGHOST_PLUGIN("crc32", "1.0.0", methods, NULL)
