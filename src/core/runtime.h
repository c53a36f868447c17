/*
 * A running configuration: inputs, the engine with its actions, templates, and the daemon-wide
 * settings. config.c builds one from a configuration file; runtime.c starts, stops and reports
 * on it. The daemon holds one at a time; a reload builds the next before stopping the current.
 *
 * Concurrency: built and torn down by the main (housekeeping) thread. While it runs, inputs and
 * actions have their own threads (see their headers); the lists here are read-only then.
 */
#ifndef SL_RUNTIME_H
#define SL_RUNTIME_H

#include <stdbool.h>
#include <stdio.h>

#include "core/action.h"
#include "core/engine.h"
#include "core/template.h"
#include "inputs/input.h"

typedef struct sl_runtime {
    sl_engine_t engine;
    sl_input_t **inputs;
    size_t ninputs;
    sl_template_t **templates; /* every template the actions use, owned here */
    size_t ntemplates;
    void **output_confs; /* per action, freed with output_conf_free */
    void (**output_conf_free)(void *);

    char *work_dir;
    char *pidfile;
    char *control_socket;
    int stats_interval_s; /* 0: no periodic stats line */
    int shutdown_timeout_ms;
    char *user;
    char *group;
    bool lock_memory;
    bool started;
} sl_runtime_t;

/* Max errors a configuration check reports. */
#define SL_CONFIG_MAX_ERRORS 20

/*
 * Builds a runtime from a configuration file (YAML, or a legacy syslog.conf), or from text when
 * path is NULL (name is used in messages). Errors and warnings, "file:line:col: message", go to
 * err (one per line). Returns 0 or a negative errno; nothing is bound or started.
 */
int sl_config_load(const char *path, const char *text, const char *name, sl_runtime_t **out,
                   FILE *err);

/* Prints every configuration key, section by section, from the key tables that also parse
 * and check them (sluiced --help-config). */
void sl_config_print_keys(FILE *f);

/* The configuration used when sluiced is given none (listens on 127.0.0.1, writes ./var/log). */
extern const char sl_default_config[];

/* Binds every input's sockets. Returns 0, or -errno with a line on err. */
int sl_runtime_bind(sl_runtime_t *rt, FILE *err);

/* Starts action workers, then input threads. */
int sl_runtime_start(sl_runtime_t *rt, FILE *err);

/* Stops inputs, then drains the actions until the deadline, then stops them. A direct action
 * still delivering at the deadline (holding its input thread) is aborted then. */
void sl_runtime_stop(sl_runtime_t *rt, const struct timespec *deadline);

/*
 * Reload: stops cur for good except for the inputs next has with the same settings, which are
 * paused (sockets, connections and partial frames kept); drains cur's actions until the
 * deadline; then moves those inputs into next. Afterwards free cur, then bind and start next:
 * senders on kept inputs wait during the switch and lose nothing.
 */
void sl_runtime_handover(sl_runtime_t *cur, sl_runtime_t *next, const struct timespec *deadline);

/* Asks every action to reopen its files and connections. */
void sl_runtime_reopen(sl_runtime_t *rt);

void sl_runtime_free(sl_runtime_t *rt);

/* Writes every counter as JSON (one object) to f. */
void sl_runtime_stats_json(sl_runtime_t *rt, FILE *f);

/* Writes a one-line summary for the periodic stats log line. */
void sl_runtime_stats_line(sl_runtime_t *rt, FILE *f);

#endif
