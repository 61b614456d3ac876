/*
 * The options of every command, parsed one way: each command names the ones
 * it takes (HW_OPT_*), the rest is a usage error. A PIN on the command line
 * is refused and its bytes overwritten (what ps showed until now cannot be
 * taken back, what it shows later can).
 */
#include "tools/cli.h"

#include <getopt.h>
#include <string.h>

static const struct {
	const char *name;
	unsigned flag;
	bool value;
} known[] = {
	{ "slot", HW_OPT_SLOT, true }, { "type", HW_OPT_TYPE, true }, { "label", HW_OPT_LABEL, true },
	{ "id", HW_OPT_ID, true }, { "pin-file", HW_OPT_PIN_FILE, true },
	{ "so-pin-file", HW_OPT_SO_PIN_FILE, true }, { "new-pin-file", HW_OPT_NEW_PIN_FILE, true },
	{ "json", HW_OPT_JSON, false }, { "yes", HW_OPT_YES, false }, { "pem", HW_OPT_PEM, false },
	{ "policy", HW_OPT_POLICY, false },
};

static int refuse_pin(char *arg)
{
	if (arg != NULL)
		hw_wipe(arg, strlen(arg));
	fprintf(stderr, "hwagg: a PIN on the command line is readable by every user of this machine "
		"(ps, /proc); give --pin-file FILE, set HWAGG_PIN, or let hwagg ask on the terminal\n");
	return HW_EXIT_USAGE;
}

int hw_cli_parse(int argc, char **argv, unsigned allowed, size_t min_args, size_t max_args, hw_cli_opts *o)
{
	enum { O_PIN = 512, O_SO_PIN };
	struct option longs[HW_ARRAY_LEN(known) + 3];
	size_t n = 0;
	int c, idx = 0;
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < HW_ARRAY_LEN(known); i++)
		longs[n++] = (struct option){ known[i].name, known[i].value ? required_argument : no_argument, NULL,
					      256 + (int)i };
	longs[n++] = (struct option){ "pin", required_argument, NULL, O_PIN };
	longs[n++] = (struct option){ "so-pin", required_argument, NULL, O_SO_PIN };
	longs[n] = (struct option){ NULL, 0, NULL, 0 };
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "p:", longs, &idx)) != -1) {
		if (c == O_PIN || c == O_SO_PIN || c == 'p')
			return refuse_pin(optarg);
		if (c < 256 || c >= 256 + (int)HW_ARRAY_LEN(known)) {
			/* "--pin" without a value is still a PIN on the command line */
			if (optopt == O_PIN || optopt == O_SO_PIN || optopt == 'p')
				return refuse_pin(NULL);
			fprintf(stderr, "hwagg %s: %s: unknown option or missing value; see hwagg %s --help\n", argv[0],
				argv[optind - 1], argv[0]);
			return HW_EXIT_USAGE;
		}
		size_t k = (size_t)(c - 256);
		if (!(allowed & known[k].flag)) {
			fprintf(stderr, "hwagg %s: --%s is not an option of this command; see hwagg %s --help\n",
				argv[0], known[k].name, argv[0]);
			return HW_EXIT_USAGE;
		}
		switch (known[k].flag) {
		case HW_OPT_SLOT: o->slot = optarg; break;
		case HW_OPT_TYPE: o->type = optarg; break;
		case HW_OPT_LABEL: o->label = optarg; break;
		case HW_OPT_ID: o->id_hex = optarg; break;
		case HW_OPT_PIN_FILE: o->pin_file = optarg; break;
		case HW_OPT_SO_PIN_FILE: o->so_pin_file = optarg; break;
		case HW_OPT_NEW_PIN_FILE: o->new_pin_file = optarg; break;
		case HW_OPT_JSON: o->json = true; break;
		case HW_OPT_YES: o->yes = true; break;
		case HW_OPT_PEM: o->pem = true; break;
		case HW_OPT_POLICY: o->policy = true; break;
		default: break;
		}
	}
	o->args = argv + optind;
	o->nargs = (size_t)(argc - optind);
	if (o->nargs < min_args || o->nargs > max_args) {
		fprintf(stderr, "hwagg %s: %s; see hwagg %s --help\n", argv[0],
			o->nargs < min_args ? "missing argument" : "unexpected argument", argv[0]);
		return HW_EXIT_USAGE;
	}
	return HW_EXIT_OK;
}
