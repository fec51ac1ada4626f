/* pvm.h: the public embedding API of pvm (libpvm.a).
 *
 * This header is the only one a host program includes. The embedding API
 * proper (values, calls, native functions, limits) is specified in
 * docs/embedding.md once written; for now it offers the version. */
#ifndef PVM_H
#define PVM_H

#define PVM_VERSION_MAJOR 0
#define PVM_VERSION_MINOR 1
#define PVM_VERSION_PATCH 0
#define PVM_VERSION_STRING "0.1.0"

/* The bytecode format version this library reads and writes. */
#define PVM_BYTECODE_VERSION 1

#endif
