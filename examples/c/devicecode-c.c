/*
 * devicecode-c: the `devicecode` command's `login` and `token`, written in
 * C against libdevicecode. Same options, same exit codes:
 *
 *   devicecode-c login --client-id ID <authority> [--scope S]... [--ca-file PEM]
 *                      [--timeout SECS] [--cache FILE] [--verbose]
 *   devicecode-c token --client-id ID <authority> [--scope S]... [--ca-file PEM]
 *                      [--cache FILE] [--account USERNAME] [--force-refresh] [--verbose]
 *
 *   <authority>: --tenant T | --authority URL | --issuer URL
 *                | --device-endpoint URL --token-endpoint URL
 *
 * Exit codes: 0 success, 2 usage or configuration, 3 interaction required
 * (run login), 4 declined, 5 expired (or --timeout reached), 6 cancelled
 * (SIGINT / SIGTERM), 7 network, 8 other service error, 9 token file error.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devicecode.h"

#define MAX_SCOPES 32

static const char USAGE[] =
    "usage: devicecode-c login|token --client-id ID (--tenant T | --authority URL | "
    "--issuer URL | --device-endpoint URL --token-endpoint URL) [--scope S]... "
    "[--ca-file PEM] [--timeout SECS] [--cache FILE] [--account USERNAME] "
    "[--force-refresh] [--verbose]\n";

struct options {
    const char *command;
    const char *client_id;
    const char *tenant;
    const char *authority;
    const char *issuer;
    const char *device_endpoint;
    const char *token_endpoint;
    const char *ca_file;
    const char *cache;
    const char *account;
    const char *scopes[MAX_SCOPES];
    size_t scope_count;
    unsigned long long timeout_secs;
    int force_refresh;
    int verbose;
};

/* Set before the signal handlers are installed, read by them only. */
static devicecode_cancel *volatile cancel_handle = NULL;

static void on_signal(int signal_number)
{
    (void)signal_number;
    /* Async-signal-safe: one atomic store inside the library. */
    devicecode_cancel_request(cancel_handle);
}

static int usage(const char *problem)
{
    fprintf(stderr, "devicecode-c: %s\n%s", problem, USAGE);
    return DEVICECODE_CONFIGURATION;
}

/* Reports a failed call and frees its error; returns the status to exit with. */
static int report(int status, devicecode_error *error)
{
    const char *oauth = devicecode_error_oauth_error(error);
    uint64_t aadsts = devicecode_error_aadsts(error);

    fprintf(stderr, "devicecode-c: %s\n",
            error ? devicecode_error_message(error) : devicecode_status_name(status));
    if (oauth != NULL) {
        fprintf(stderr, "devicecode-c: the server said %s", oauth);
        if (aadsts != 0) {
            fprintf(stderr, " (AADSTS%llu)", (unsigned long long)aadsts);
        }
        fprintf(stderr, "\n");
    }
    devicecode_error_free(error);
    return status;
}

static int parse_args(int argc, char **argv, struct options *opts)
{
    int i;

    memset(opts, 0, sizeof *opts);
    if (argc < 2) {
        return usage("no command given");
    }
    opts->command = argv[1];
    if (strcmp(opts->command, "login") != 0 && strcmp(opts->command, "token") != 0) {
        fprintf(stderr, "devicecode-c: unknown command '%s'\n%s", opts->command, USAGE);
        return DEVICECODE_CONFIGURATION;
    }
    for (i = 2; i < argc; i++) {
        const char *flag = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(flag, "--verbose") == 0 || strcmp(flag, "-v") == 0) {
            opts->verbose = 1;
            continue;
        }
        if (strcmp(flag, "--force-refresh") == 0) {
            opts->force_refresh = 1;
            continue;
        }
        if (value == NULL) {
            fprintf(stderr, "devicecode-c: %s needs a value\n%s", flag, USAGE);
            return DEVICECODE_CONFIGURATION;
        }
        i++;
        if (strcmp(flag, "--client-id") == 0) {
            opts->client_id = value;
        } else if (strcmp(flag, "--tenant") == 0) {
            opts->tenant = value;
        } else if (strcmp(flag, "--authority") == 0) {
            opts->authority = value;
        } else if (strcmp(flag, "--issuer") == 0) {
            opts->issuer = value;
        } else if (strcmp(flag, "--device-endpoint") == 0) {
            opts->device_endpoint = value;
        } else if (strcmp(flag, "--token-endpoint") == 0) {
            opts->token_endpoint = value;
        } else if (strcmp(flag, "--ca-file") == 0) {
            opts->ca_file = value;
        } else if (strcmp(flag, "--cache") == 0) {
            opts->cache = value;
        } else if (strcmp(flag, "--account") == 0) {
            opts->account = value;
        } else if (strcmp(flag, "--scope") == 0) {
            if (opts->scope_count == MAX_SCOPES) {
                return usage("too many --scope options");
            }
            opts->scopes[opts->scope_count++] = value;
        } else if (strcmp(flag, "--timeout") == 0) {
            char *end = NULL;
            errno = 0;
            opts->timeout_secs = strtoull(value, &end, 10);
            if (errno != 0 || end == value || *end != '\0' || value[0] == '-') {
                fprintf(stderr, "devicecode-c: --timeout takes whole seconds, not '%s'\n%s",
                        value, USAGE);
                return DEVICECODE_CONFIGURATION;
            }
        } else {
            fprintf(stderr, "devicecode-c: unknown option '%s'\n%s", flag, USAGE);
            return DEVICECODE_CONFIGURATION;
        }
    }
    return DEVICECODE_OK;
}

/* The code, shown as the Rust command shows it: on stdout. */
static int show_code(void *user_data, const char *user_code, const char *verification_uri,
                     const char *message, const char *verification_uri_complete,
                     uint64_t expires_in_secs)
{
    (void)user_data;
    (void)user_code;
    (void)verification_uri;
    (void)expires_in_secs;
    printf("%s\n", message);
    if (verification_uri_complete != NULL) {
        printf("(or open %s to skip typing the code)\n", verification_uri_complete);
    }
    return fflush(stdout) == 0 ? 0 : -1;
}

static void wait_finished(void *user_data, int status, const char *text)
{
    (void)user_data;
    if (status == DEVICECODE_OK) {
        fprintf(stderr, "signed in as %s\n", text != NULL ? text : "(unknown account)");
    }
}

static void log_line(void *user_data, int level, const char *target, const char *message)
{
    static const char *const names[] = {"OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
    (void)user_data;
    (void)target;
    fprintf(stderr, "[%s] %s\n", level >= 1 && level <= 5 ? names[level] : "?", message);
}

static int configure(const struct options *opts, devicecode_config *config)
{
    devicecode_error *error = NULL;
    int status = DEVICECODE_OK;
    int chosen = (opts->tenant != NULL) + (opts->authority != NULL) + (opts->issuer != NULL) +
                 (opts->device_endpoint != NULL || opts->token_endpoint != NULL);
    size_t i;

    if (chosen != 1) {
        return usage("give exactly one of --tenant, --authority, --issuer, or "
                     "--device-endpoint with --token-endpoint");
    }
    if (opts->tenant != NULL) {
        status = devicecode_config_set_tenant(config, opts->tenant, &error);
    } else if (opts->authority != NULL) {
        status = devicecode_config_set_authority(config, opts->authority, &error);
    } else if (opts->issuer != NULL) {
        status = devicecode_config_set_issuer(config, opts->issuer, &error);
    } else if (opts->device_endpoint == NULL || opts->token_endpoint == NULL) {
        return usage("--device-endpoint and --token-endpoint go together");
    } else {
        status = devicecode_config_set_endpoints(config, opts->device_endpoint,
                                                 opts->token_endpoint, &error);
    }
    for (i = 0; status == DEVICECODE_OK && i < opts->scope_count; i++) {
        status = devicecode_config_add_scope(config, opts->scopes[i], &error);
    }
    if (status == DEVICECODE_OK) {
        /* NULL: the Rust command's default token file. */
        status = devicecode_config_set_cache_file(config, opts->cache, &error);
    }
    if (status == DEVICECODE_OK && opts->ca_file != NULL) {
        status = devicecode_config_add_ca_file(config, opts->ca_file, &error);
    }
    if (status == DEVICECODE_OK) {
        status = devicecode_config_set_display(config, show_code, wait_finished, NULL, &error);
    }
    return status == DEVICECODE_OK ? status : report(status, error);
}

static int install_signal_handlers(void)
{
    struct sigaction action;

    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGINT, &action, NULL) != 0 || sigaction(SIGTERM, &action, NULL) != 0) {
        fprintf(stderr, "devicecode-c: cannot watch SIGINT and SIGTERM: %s\n", strerror(errno));
        return DEVICECODE_CONFIGURATION;
    }
    return DEVICECODE_OK;
}

static int login(const struct options *opts, devicecode_client *client)
{
    devicecode_error *error = NULL;
    devicecode_token *token = NULL;
    devicecode_cancel *cancel = NULL;
    const devicecode_error *unsaved;
    int status;

    status = devicecode_cancel_new(&cancel, &error);
    if (status != DEVICECODE_OK) {
        return report(status, error);
    }
    cancel_handle = cancel;
    status = install_signal_handlers();
    if (status == DEVICECODE_OK) {
        status = devicecode_client_login(client, cancel, opts->timeout_secs, &token, &error);
        if (status != DEVICECODE_OK) {
            status = report(status, error);
        }
    }
    /* The handlers stay installed and may still fire: the handle must
     * outlive them, so they are reset before it is freed. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    cancel_handle = NULL;
    devicecode_cancel_free(cancel);
    if (status != DEVICECODE_OK) {
        return status;
    }
    /* Signed in, but the token file could not keep it: this process is
     * about to exit, so the sign-in would be lost. */
    unsaved = devicecode_token_cache_error(token);
    if (unsaved != NULL) {
        fprintf(stderr, "devicecode-c: signed in, but the tokens were not saved: %s\n",
                devicecode_error_message(unsaved));
        status = devicecode_error_status(unsaved);
    }
    devicecode_token_free(token);
    return status;
}

static int token(const struct options *opts, devicecode_client *client)
{
    devicecode_error *error = NULL;
    devicecode_token *token = NULL;
    const devicecode_error *unsaved;
    int status = devicecode_client_token(client, opts->account, opts->force_refresh, &token,
                                         &error);

    if (status != DEVICECODE_OK) {
        return report(status, error);
    }
    /* The token is valid even when the file could not keep the refreshed
     * tokens: print it, and say what was not saved. */
    unsaved = devicecode_token_cache_error(token);
    if (unsaved != NULL) {
        fprintf(stderr, "devicecode-c: warning: the refreshed tokens were not saved: %s\n",
                devicecode_error_message(unsaved));
    }
    printf("%s\n", devicecode_token_access_token(token));
    status = fflush(stdout) == 0 ? DEVICECODE_OK : DEVICECODE_CONFIGURATION;
    devicecode_token_free(token);
    return status;
}

int main(int argc, char **argv)
{
    struct options opts;
    devicecode_config *config = NULL;
    devicecode_client *client = NULL;
    devicecode_error *error = NULL;
    int status = parse_args(argc, argv, &opts);

    if (status != DEVICECODE_OK) {
        return status;
    }
    if (opts.client_id == NULL) {
        return usage("--client-id is required");
    }
    if (opts.verbose) {
        status = devicecode_set_logger(log_line, NULL, DEVICECODE_LOG_DEBUG, &error);
        if (status != DEVICECODE_OK) {
            return report(status, error);
        }
    }
    status = devicecode_config_new(opts.client_id, &config, &error);
    if (status != DEVICECODE_OK) {
        return report(status, error);
    }
    status = configure(&opts, config);
    if (status == DEVICECODE_OK) {
        status = devicecode_client_new(config, &client, &error);
        if (status != DEVICECODE_OK) {
            status = report(status, error);
        }
    }
    devicecode_config_free(config);
    if (status == DEVICECODE_OK) {
        status = strcmp(opts.command, "login") == 0 ? login(&opts, client) : token(&opts, client);
    }
    devicecode_client_free(client);
    devicecode_set_logger(NULL, NULL, DEVICECODE_LOG_OFF, NULL);
    return status;
}
