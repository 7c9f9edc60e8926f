#ifndef SVTPM_IMPORT_CMD_H
#define SVTPM_IMPORT_CMD_H
/* `svtpm import`: turns an swtpm state directory into sealed svtpm state. */
int import_main(int argc, char **argv);
#endif
