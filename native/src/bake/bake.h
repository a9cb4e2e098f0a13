/*
 * bake.h - the bake: one state enum, one switch (machine.c), one
 * set_state(); one file per stage. Internal to libbakeami.
 */
#ifndef BK_BAKE_H
#define BK_BAKE_H

#include <pthread.h>
#include <stdio.h>

#include "../aws/ec2.h"
#include "../ssh/ssh.h"

#define BK_MAX_TUNNELS 2
#include "../template/template.h"
#include "inputs.h"
#include "journal.h"
#include "reap.h"

typedef enum {
	BK_VALIDATE,              /* load and check the template: no AWS call */
	BK_RESOLVE_SOURCE,        /* source AMI by id or filter; the bound config */
	BK_REUSE,                 /* inputs digest; a tested image of them, else the ami_name pre-check */
	BK_CREATE_KEYPAIR,        /* ephemeral ed25519 key, imported */
	BK_CREATE_SECURITY_GROUP, /* SSH from our address only */
	BK_CREATE_INSTANCE_PROFILE, /* temporary_iam_instance_profile_policy_document's role */
	BK_LAUNCH,                /* RunInstances, tagged on create */
	BK_WAIT_RUNNING,
	BK_WAIT_SSH,
	BK_PROVISION,
	BK_TEST,                  /* tests before the image (issue 3) */
	BK_BUNDLE_VOLUME,         /* amazon-instance: x509 pair up, ec2-bundle-vol */
	BK_UPLOAD_BUNDLE,         /* amazon-instance: ec2-upload-bundle to S3 */
	BK_REGISTER_IMAGE,        /* amazon-instance: RegisterImage of the manifest */
	BK_CREATE_IMAGE,
	BK_WAIT_IMAGE,
	BK_TEST_IMAGE,            /* tests on a fresh instance (issue 3) */
	BK_PROMOTE,               /* issue 4 */
	BK_CLEANUP,               /* reverse order of creation; not cancellable */
	BK_DONE,
	BK_STATE_LAST             /* never a state; keep bk_state_name() in step */
} bk_state;

/* What a handle runs: a bake's list of states, a promotion's, or (issue 14)
 * a reuse hit's, a re-test of a reused image, `bakeami inputs`. A bake
 * becomes a reuse or a re-test at REUSE. */
typedef enum {
	BK_RUN_BAKE, BK_RUN_PROMOTION, BK_RUN_REUSE, BK_RUN_RETEST, BK_RUN_INPUTS
} bk_run_kind;

/* One stage: 0 or an error code. A handle's table of them is filled by
 * bk_run_init(); unit tests swap in fakes. */
typedef int (*bk_stage_fn)(bakeami_bake *b);

const char *bk_state_name(bk_state s);   /* "WAIT_SSH" */
const char *bk_state_stage(bk_state s);  /* "ssh": the console's stage word */

/* The lease on the run's temporary resources (lease.c). */
typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t tid;
	bool started, stop;
	bk_strv ids;                  /* what CreateTags renews: instances, groups, key pairs */
} bk_lease;

struct bakeami_bake {
	/* options, deep-copied */
	bakeami_options opts;
	bk_strv owned;                /* backing store of the copied strings */
	/* control */
	bk_run_kind kind;
	const bk_state *states;       /* the run's list, ending in CLEANUP, DONE */
	bk_stage_fn stage[BK_STATE_LAST];
	pthread_mutex_t mu;           /* guards state vs. cancel */
	pthread_mutex_t emit_mu;      /* serializes the events of this run (log_cb) */
	bk_state state;
	bk_cancel work_cancel;        /* set by cancel outside CLEANUP */
	atomic_int cancel_requested;
	int rc;                       /* first failure's code, 0 */
	char *error;                  /* first failure's message */
	bk_state failed_state;
	/* time */
	double t0, wall0, state_t0;
	double stage_secs[BK_STATE_LAST];
	char run_id[32];
	/* parts */
	bk_template *tpl;
	bk_build_config *cfg;         /* bound after RESOLVE_SOURCE */
	bk_aws *aws;
	bk_journal *journal;          /* and its ledger: everything the run made or changed */
	const bk_kind *kinds;         /* how to undo each kind; NULL: bk_kinds() (tests swap it) */
	size_t kinds_count;
	bk_strv secrets;              /* masked in every event */
	pthread_mutex_t secrets_mu;   /* guards secrets: threads mask while a stage adds */
	char *logs_dir;               /* <log_dir>/<run-id> once PROVISION made it */
	FILE *prov_log;               /* the running provisioner's log (under emit_mu) */
	/* resources, in order of creation */
	bk_ec2_images sources;        /* DescribeImages result, newest first */
	const bk_ec2_image *source;   /* sources.items[0] */
	bk_ssh_key *key;              /* NULL with ssh_agent_auth alone */
	bk_ssh_key *bastion_key;      /* ssh_bastion_private_key_file's; NULL: none */
	bk_lease lease;               /* bakeami:expires of the temporary resources, renewed */
	char *key_name;               /* set when we imported it */
	char *sg_id;
	char *iam_profile;            /* the temporary instance profile's name, once made */
	bk_ec2_instance instance;     /* .id set once launched */
	char *ssh_host;
	int ssh_port;
	bk_ssh *ssh;
	/* ssh_bastion_host: a tunnel per instance address reached (the build
	 * instance, a test instance), each to <address>:ssh_port; closed with
	 * the bake */
	bk_ssh_tunnel *tunnels[BK_MAX_TUNNELS];
	char *tunnel_hosts[BK_MAX_TUNNELS];
	bk_strv x509_remote;          /* amazon-instance: the pair on the instance, to remove */
	char *manifest_path;          /* amazon-instance: <bundle_destination>/<prefix>.manifest.xml */
	char *bundle_id;              /* amazon-instance: "<bucket>/<prefix>" once uploading */
	char *image_id;
	bk_strv image_snapshots;
	char *unencrypted_id;         /* encrypt_boot: the image before its encrypted copy */
	bk_strv unencrypted_snapshots;
	/* promotion (issue 4): filled by stage_promote.c and promote_cmd.c */
	bk_kv amis;                   /* region -> AMI id of every kept image */
	bk_strv rolled_back;          /* what a failed promotion undid */
	const char *promote_ami;      /* bakeami_promote_new's image (its copy is in `owned`) */
	/* reuse (issue 14): filled by stage_reuse.c */
	bk_inputs inputs;             /* computed at REUSE, for every image's tags */
	bool have_inputs;
	bk_ec2_images reuse_found;    /* the lookup's answer */
	bk_ec2_image *reused;         /* the image a hit or a re-test uses (in reuse_found) */
	char *inputs_report;          /* `bakeami inputs`: what it prints */
	/* tests (issue 3): filled by stage_test.c */
	void *tests_report;           /* bk_test_report *, NULL when no tests ran */
	bk_ec2_instance test_instance; /* after_image: launched from the new image */
	/* report */
	bk_strv cleaned;              /* "terminated instance i-..." */
	bk_strv cleanup_failed;
	bk_strv gone;                 /* already gone when cleanup came to it */
	bk_strv left;                 /* resources kept on --on-error abort */
	long ec2_calls;
	char *result_json;
	/* one of several builds (multi.c) */
	int prefixed;                 /* console lines carry the build's name */
	pthread_mutex_t *manifest_mu; /* shared by the builds: one manifest append at a time */
};

/* ---- api.c ---- */
/* The size of bakeami_options at that version; 0: a version we do not know. */
size_t bk_options_size(unsigned int version);

/* ---- machine.c ---- */
/* Set the kind, its list of states and the default stage table. */
void bk_run_init(bakeami_bake *b, bk_run_kind kind);
/* A bake becomes a reuse hit or a re-test (BK_RUN_REUSE, BK_RUN_RETEST):
 * its list and stages from the current state on. */
void bk_run_switch(bakeami_bake *b, bk_run_kind kind);
/* A bake of an amazon-instance template: its list bundles and registers
 * instead of CreateImage (VALIDATE picks it, from the template). */
void bk_run_use_builder_list(bakeami_bake *b, const bk_build_config *cfg);
/* Run the list once to DONE, then write the outputs; b->rc. */
int bk_run(bakeami_bake *b);
void bk_set_state(bakeami_bake *b, bk_state next, int line);
#define set_state(b, s) bk_set_state((b), (s), __LINE__)
/* Record the first failure (code + current bk_err_msg()); returns rc. */
int bk_bake_fail(bakeami_bake *b, int rc);

/* ---- log.c: events to the caller, secrets masked ---- */
void bk_emit(bakeami_bake *b, bakeami_event_kind kind, int stream, const char *fmt, ...) BK_PRINTF(4, 5);
#define bk_step(b, ...) bk_emit((b), BAKEAMI_EVENT_STEP, 0, __VA_ARGS__)
#define bk_warn(b, ...) bk_emit((b), BAKEAMI_EVENT_WARN, 0, __VA_ARGS__)
bk_logger bk_bake_logger(bakeami_bake *b);
/* Set ev->line and ev->json from the event's other fields (run_id may be
 * NULL); *line and *json are the caller's to free. */
int bk_event_render(bakeami_event *ev, const char *run_id, char **line, char **json);
bakeami_event_kind bk_event_kind_of(bk_log_level level);
void bk_output_line(int stream, const char *line, size_t len, void *payload);
int bk_add_secret(bakeami_bake *b, const char *s);
/* Mask every secret in text: a new string. */
char *bk_mask(const bakeami_bake *b, const char *text);
/* Every event from now on also goes, masked, to f (NULL: to no file);
 * the previous file is closed. */
void bk_log_file_set(bakeami_bake *b, FILE *f);
/* A line for the log file only, masked (the console has it already). */
void bk_log_file_note(bakeami_bake *b, const char *text);

/* ---- stage_provision.c ---- */
#define BK_LOG_DIR_DEFAULT "bakeami-logs"
/* opts.log_dir, else the default (relative: under the working directory). */
const char *bk_log_dir(const bakeami_bake *b);

/* ---- the stages: each returns 0 or an error code ---- */
int bk_stage_validate(bakeami_bake *b);
int bk_stage_resolve_source(bakeami_bake *b);
int bk_stage_reuse(bakeami_bake *b);
int bk_stage_inputs(bakeami_bake *b);           /* `bakeami inputs`'s REUSE */
int bk_stage_promote_reused(bakeami_bake *b);   /* a reuse hit's PROMOTE */
int bk_stage_create_keypair(bakeami_bake *b);
int bk_stage_create_security_group(bakeami_bake *b);
int bk_stage_create_instance_profile(bakeami_bake *b);
int bk_stage_launch(bakeami_bake *b);
int bk_stage_wait_running(bakeami_bake *b);
int bk_stage_wait_ssh(bakeami_bake *b);
int bk_stage_provision(bakeami_bake *b);
void bk_provision_error_cleanup(bakeami_bake *b);
int bk_stage_test(bakeami_bake *b);
int bk_stage_bundle_volume(bakeami_bake *b);
int bk_stage_upload_bundle(bakeami_bake *b);
int bk_stage_register_image(bakeami_bake *b);
int bk_stage_create_image(bakeami_bake *b);
int bk_stage_wait_image(bakeami_bake *b);
int bk_stage_test_image(bakeami_bake *b);
int bk_stage_promote(bakeami_bake *b);
int bk_stage_cleanup(bakeami_bake *b);     /* always 0: failures are listed */
/* promote_cmd.c: a promotion's VALIDATE and PROMOTE */
int bk_stage_promote_validate(bakeami_bake *b);
int bk_stage_promote_existing(bakeami_bake *b);
/* Promote img, an image of ours made earlier (copies, shares and pointers
 * it has are kept, not made again); binds the config from its tags when
 * the run has none. */
int bk_promote_image(bakeami_bake *b, const bk_ec2_image *img);

/* ---- shared helpers ---- */
/* The validation pass (bk_template_validate), its warnings sent to log
 * (may be NULL). No AWS call. */
int bk_bake_validate(bk_template **out, const bakeami_options *o, const bk_logger *log);
/* The builds o->only/except select (names, types), without a plan. */
int bk_bake_select(bk_build_list *out, const bakeami_options *o);
/* Tags every resource carries: bakeami:run-id, bakeami:expires, CreatedBy. */
int bk_bake_tags(bk_kv *out, const bakeami_bake *b, const bk_kv *user_tags);
/* Tags of the image and its snapshots: user tags plus provenance
 * (bakeami:run-id, SourceAMI, SourceAMIName, BuildRegion, CreatedBy, and
 * BUILD_URL/BUILD_NUMBER/GIT_COMMIT from the environment and extra_tags);
 * no expiry: the image is meant to stay. */
int bk_image_tags(bk_kv *out, const bakeami_bake *b, const bk_kv *user_tags);
/* Poll with adaptive intervals until check() says done (1), fails (<0) or
 * the deadline passes. check returns 0 to keep waiting. */
int bk_poll(bakeami_bake *b, double timeout_s, const char *what,
	    int (*check)(bakeami_bake *b, void *arg), void *arg, const bk_cancel *cancel);
/* RunInstances from image_id with the build's settings, journalled and
 * tagged; purpose makes the ClientToken ("run", "test"). */
int bk_launch(bakeami_bake *b, bk_ec2_instance *out, const char *image_id,
	      const char *purpose, const char *name);
/* One on-demand RunInstances of req, journalled (stage_launch.c). */
int bk_launch_on_demand(bakeami_bake *b, bk_ec2_instance *out, const bk_ec2_run_request *req);
/* spot_price's launch (stage_spot.c): a launch template, an instant fleet
 * per spot_instance_types entry until one has capacity, then on-demand
 * with spot_fallback_on_demand; everything journalled. */
int bk_launch_spot(bakeami_bake *b, bk_ec2_instance *out, bk_ec2_run_request *req,
		   const char *purpose);
/* Wait for inst to run; *ssh_host gets the address SSH should use (NULL:
 * nothing will connect). */
int bk_wait_running(bakeami_bake *b, bk_ec2_instance *inst, char **ssh_host);
/* Connect to host with the build's SSH settings and key (through the
 * bastion when there is one: ssh_timeout covers both hops). */
int bk_connect(bakeami_bake *b, bk_ssh **out, const char *host);
/* Where a program on the agent (Serverspec, ansible) dials to reach host:
 * the bastion tunnel's local end (127.0.0.1) when there is one, else host
 * and ssh_port. Only after bk_connect(host) succeeded. */
void bk_reach(const bakeami_bake *b, const char *host, const char **dial_host, int *dial_port);
/* The local port of the bastion tunnel to host; 0: none. */
int bk_tunnel_port(const bakeami_bake *b, const char *host);
/* Close the bastion tunnels (at the end of the bake). */
void bk_tunnels_close(bakeami_bake *b);
/* The run's AWS settings (credentials of the options, else the template's,
 * else the chain; the options' role; the cancel flag and logger); the
 * caller sets the region. */
bk_aws_config bk_bake_aws_config(bakeami_bake *b, const bk_build_config *c);
/* A reaper for this bake's resources: deletions go to its journal and its
 * cleaned/failed lists; its deadline is deadline_s from now. */
bk_reaper bk_bake_reaper(bakeami_bake *b, double deadline_s);
/* A ClientToken unique to this run and purpose. */
void bk_client_token(char out[64], const bakeami_bake *b, const char *purpose);

/* ---- stage_reuse.c ---- */
/* Is reuse on for this run: --reuse/--no-reuse, else the template's. */
bool bk_reuse_wanted(const bakeami_bake *b);
/* The digest's tags for an image of this run, within EC2's tag limit
 * given the `have` tags it carries already and `later` to come. */
int bk_inputs_image_tags(bk_kv *tags, const bakeami_bake *b, size_t later);
/* ---- stage_image.c ---- */
/* The image's tags: user tags, provenance, and before_image test results
 * (CreateImage's and RegisterImage's alike). */
int bk_final_image_tags(bk_kv *tags, const bakeami_bake *b);

/* ---- stage_bundle.c: amazon-instance's commands on the instance ---- */
typedef struct {
	const char *name;   /* "KeyPath": {{.KeyPath}} */
	const char *value;
} bk_bundle_field;
/* Render an option's command with its fields and run it, output live;
 * a non-zero exit is BAKEAMI_EPROVISION naming the option, and the hint
 * when the status is hint_status (0: any). */
int bk_bundle_run(bakeami_bake *b, const char *option, const char *tmpl,
		  const bk_bundle_field *f, size_t n, int hint_status, const char *hint);
/* Remove the x509 pair from the instance (each exit path of the bundle
 * stages); 0 when nothing is there to remove. */
int bk_bundle_remove_x509(bakeami_bake *b);

/* ---- stage_test.c ---- */
/* TestStatus=passed and TestsPassed=N when tests ran (none: nothing). */
int bk_test_tags(bk_kv *out, const bakeami_bake *b);
void bk_test_report_release(bakeami_bake *b);
/* Mask every string of the report (before the JUnit file is written). */
int bk_test_report_mask(bakeami_bake *b);

/* ---- machine.c: manifest, JUnit and result files, after cleanup ---- */
void bk_bake_finish(bakeami_bake *b);

/* ---- result.c ---- */
int bk_result_build(bakeami_bake *b);
/* Appends b's build to Packer's manifest at path, with cfg's custom_data
 * and strip_time (cfg may be NULL). */
int bk_manifest_write(bakeami_bake *b, const char *path, const bk_manifest_cfg *cfg);
/* Packer's artifact id: the sorted "region:ami" pairs joined by commas. */
char *bk_artifact_id(const bakeami_bake *b);
/* ---- post_process.c: the template's post-processors, once the image
 * exists (after cleanup, as Packer runs them after the builder) ---- */
int bk_post_process(bakeami_bake *b);
/* stage_provision.c: PACKER_BUILD_NAME, PACKER_BUILDER_TYPE, PACKER_RUN_UUID
 * and BAKEAMI_RUN_ID, for what runs provisioners and post-processors. */
int bk_provision_env(bk_kv *env, const bakeami_bake *b);

/* ---- lease.c ---- */
/* The default lease of a temporary resource (its bakeami:expires is that
 * far ahead) and how often a live run extends it (bakeami_options'
 * lease_seconds and lease_renew_seconds override them). */
#define BK_LEASE_S 3600.0
#define BK_LEASE_RENEW_S 1200.0
double bk_lease_seconds(const bakeami_bake *b);
/* ISO 8601 of now + the lease: a new resource's bakeami:expires. */
void bk_lease_expiry(char out[32], const bakeami_bake *b);
void bk_lease_init(bk_lease *l);
/* Extend id's expiry with the others' from now on; the first starts the
 * renewing thread. */
int bk_lease_hold(bakeami_bake *b, const char *id);
/* An instance's EBS volumes (tagged on create) are held with it. */
int bk_lease_hold_volumes(bakeami_bake *b, const bk_ec2_instance *inst);
/* What is deleted before CLEANUP (the test instance) is renewed no more:
 * one CreateTags for every id, and one that is gone would fail them all. */
void bk_lease_release(bakeami_bake *b, const char *id);
/* No renewal after this returns (CLEANUP); safe to call twice. */
void bk_lease_stop(bk_lease *l);
void bk_lease_free(bk_lease *l);

#endif
