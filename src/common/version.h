#ifndef SVTPM_VERSION_H
#define SVTPM_VERSION_H
#define SVTPM_VERSION "0.1.0"
/* What the reference swtpm reports; clients such as libvirt read it. */
#define SVTPM_SWTPM_COMPAT_VERSION "0.7.1"
/* The enclave's product id and security version, signed into its SIGSTRUCT.
 * Bump SVN when a security fix must stop older enclaves opening new state. */
#define SVTPM_ISV_PROD_ID 1
#define SVTPM_ISV_SVN 1
#endif
