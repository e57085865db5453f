/*
 * Schemas: the libyang contexts (rfc8366bis and legacy), the SID tables,
 * and validation of artifact JSON with libyang.
 *
 * Both contexts are built once (pthread_once) and are read-only afterwards,
 * which is what libyang needs for concurrent use of one context: parsing
 * data only reads the schema (the dictionary has its own lock), and libyang
 * keeps the last error per thread. The contexts live until the process
 * exits; libvoucher documents them as process-wide.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libyang/libyang.h>

#include "common/str.h"
#include "model.h"

enum { SET_BIS = 0, SET_LEGACY = 1, SET_COUNT };
enum { NKIND = 3 }; /* indexed by enum voucher_kind */

struct schema_set {
	struct ly_ctx *ctx;
	const struct lysc_ext_instance *ext[NKIND];
	bool has_leaf[NKIND][VOUCHER_LEAF_COUNT];
	bool has_assertion[NKIND][4];
	/* Binary leaves whose value no schema statement looks at: no length
	 * restriction and no must or when expression naming them (see
	 * binary_value_opaque). */
	bool bin_opaque[NKIND][VOUCHER_LEAF_COUNT];
};

static const struct {
	const char *module, *revision, *ext_name, *ext_arg;
} modules[SET_COUNT][NKIND] = {
        [SET_BIS] = {[VOUCHER_KIND_VOUCHER] = {"ietf-voucher", "2025-12-18", "structure",
                                               "voucher-artifact"},
                     [VOUCHER_KIND_REQUEST] = {"ietf-voucher-request", "2025-12-18", "structure",
                                               "voucher-request-artifact"}},
        [SET_LEGACY] = {[VOUCHER_KIND_VOUCHER] = {"ietf-voucher", "2018-05-09", "yang-data",
                                                  "voucher-artifact"},
                        [VOUCHER_KIND_REQUEST] = {"ietf-voucher-request", "2021-05-20", "yang-data",
                                                  "voucher-request-artifact"}},
};

static struct schema_set sets[SET_COUNT];
static uint64_t sid_root[NKIND];
static uint64_t sid_leaf[NKIND][VOUCHER_LEAF_COUNT];

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static struct voucher_error_info init_err;

static const char *yang_dir(void)
{
	const char *d = secure_getenv("BRSKI_YANG_DIR");
	return d != NULL && d[0] != 0 ? d : BRSKI_YANGDIR;
}

static const char *ly_msg(const struct ly_ctx *ctx)
{
	const struct ly_err_item *e = ly_err_last(ctx);
	return e != NULL && e->msg != NULL ? e->msg : "no libyang message";
}

static const struct lysc_ext_instance *find_ext(const struct lys_module *m, const char *name,
                                                const char *arg)
{
	LY_ARRAY_COUNT_TYPE i;
	if (m->compiled == NULL)
		return NULL;
	LY_ARRAY_FOR(m->compiled->exts, i)
	{
		const struct lysc_ext_instance *e = &m->compiled->exts[i];
		if (strcmp(e->def->name, name) == 0 && e->argument != NULL &&
		    strcmp(e->argument, arg) == 0)
			return e;
	}
	return NULL;
}

static bool type_matches(enum voucher_leaf_type t, LY_DATA_TYPE base)
{
	switch (t) {
	case VOUCHER_TYPE_STRING:
	case VOUCHER_TYPE_DATETIME:
		return base == LY_TYPE_STRING;
	case VOUCHER_TYPE_BINARY:
		return base == LY_TYPE_BINARY;
	case VOUCHER_TYPE_BOOLEAN:
		return base == LY_TYPE_BOOL;
	case VOUCHER_TYPE_ASSERTION:
		return base == LY_TYPE_ENUM;
	case VOUCHER_TYPE_LEAFLIST:
		return base == LY_TYPE_UNION;
	}
	return false;
}

/* Whether an XPath expression of a must or when statement names leaf. */
static bool xpath_names(const struct lyxp_expr *cond, const char *leaf)
{
	const char *x = cond != NULL ? lyxp_get_expr(cond) : NULL;
	return x == NULL || strstr(x, leaf) != NULL;
}

/* Whether any must or when statement of the container or its children
 * names leaf. Conservative: a mere substring counts. */
static bool node_xpath_names(const struct lysc_node *n, const char *leaf)
{
	const struct lysc_must *musts = lysc_node_musts(n);
	struct lysc_when **whens = lysc_node_when(n);
	LY_ARRAY_COUNT_TYPE i;
	LY_ARRAY_FOR(musts, i)
	{
		if (xpath_names(musts[i].cond, leaf))
			return true;
	}
	LY_ARRAY_FOR(whens, i)
	{
		if (xpath_names(whens[i]->cond, leaf))
			return true;
	}
	return false;
}

/* Whether any must or when statement of the container or its children
 * names leaf. Conservative: a mere substring counts. */
static bool named_by_xpath(const struct lysc_node *top, const char *leaf)
{
	if (node_xpath_names(top, leaf))
		return true;
	const struct lysc_node *n;
	LY_LIST_FOR(lysc_node_child(top), n)
	{
		if (node_xpath_names(n, leaf))
			return true;
	}
	return false;
}

/* A binary leaf's value matters to libyang only through its type (base64
 * syntax, a length restriction) and through XPath that reads it. The JSON
 * libyang validates is always our own re-serialisation, whose base64 comes
 * from our encoder (vl_b64_encode) after our strict decoder accepted the
 * input. Without a length restriction and without XPath naming the leaf,
 * libyang's verdict on the document is the same for any valid base64
 * value, so vl_json_print may give it a short placeholder instead of
 * kilobytes of certificates and CMS that libyang would decode for nothing
 * (a third of masad's schema-validation time, perf). */
static bool binary_value_opaque(const struct lysc_node *top, const struct lysc_node *n,
                                const struct lysc_type *type)
{
	if (type->basetype != LY_TYPE_BINARY || n->nodetype != LYS_LEAF)
		return false;
	if (((const struct lysc_type_bin *)type)->length != NULL)
		return false;
	return !named_by_xpath(top, n->name);
}

/* Walk the compiled container and check it against vl_leaves: every schema
 * leaf must be one libvoucher knows, with a matching type, and the
 * assertion enum must use the names and values of enum voucher_assertion. */
static voucher_err check_schema(struct schema_set *s, enum voucher_kind kind, const char *mod)
{
	const struct lysc_node *top = lys_getnext_ext(NULL, NULL, s->ext[kind], 0);
	if (top == NULL || top->nodetype != LYS_CONTAINER || strcmp(top->name, "voucher") != 0)
		return vl_err(&init_err, VOUCHER_E_CONFIG, NULL,
		              "%s: extension instance has no container \"voucher\"", mod);
	const struct lysc_node *n;
	LY_LIST_FOR(lysc_node_child(top), n)
	{
		enum voucher_leaf leaf = voucher_leaf_from_name(n->name);
		if (leaf == VOUCHER_LEAF_COUNT || !voucher_leaf_in_kind(leaf, kind))
			return vl_err(&init_err, VOUCHER_E_CONFIG, n->name,
			              "%s: leaf \"%s\" is unknown to libvoucher", mod, n->name);
		const struct lysc_type *type = NULL;
		if (n->nodetype == LYS_LEAF)
			type = ((const struct lysc_node_leaf *)n)->type;
		else if (n->nodetype == LYS_LEAFLIST)
			type = ((const struct lysc_node_leaflist *)n)->type;
		bool list_ok = (n->nodetype == LYS_LEAFLIST) ==
		               (vl_leaves[leaf].type == VOUCHER_TYPE_LEAFLIST);
		if (type == NULL || !list_ok || !type_matches(vl_leaves[leaf].type, type->basetype))
			return vl_err(&init_err, VOUCHER_E_CONFIG, n->name,
			              "%s: leaf \"%s\" has a type libvoucher does not expect", mod,
			              n->name);
		s->has_leaf[kind][leaf] = true;
		s->bin_opaque[kind][leaf] = binary_value_opaque(top, n, type);
		if (type->basetype == LY_TYPE_ENUM) {
			const struct lysc_type_enum *en = (const struct lysc_type_enum *)type;
			LY_ARRAY_COUNT_TYPE i;
			LY_ARRAY_FOR(en->enums, i)
			{
				int32_t v = en->enums[i].value;
				const char *want =
				        voucher_assertion_name((enum voucher_assertion)v);
				if (want == NULL || strcmp(want, en->enums[i].name) != 0)
					return vl_err(&init_err, VOUCHER_E_CONFIG, n->name,
					              "%s: assertion enum %s=%d differs from "
					              "libvoucher's",
					              mod, en->enums[i].name, (int)v);
				s->has_assertion[kind][v] = true;
			}
		}
	}
	if (!s->has_leaf[kind][VOUCHER_LEAF_SERIAL_NUMBER])
		return vl_err(&init_err, VOUCHER_E_CONFIG, NULL, "%s: no serial-number", mod);
	return VOUCHER_OK;
}

static voucher_err load_set(int set, const char *dir)
{
	struct schema_set *s = &sets[set];
	const struct lys_module *mods[NKIND] = {NULL};
	if (ly_ctx_new(dir, LY_CTX_NO_YANGLIBRARY | LY_CTX_DISABLE_SEARCHDIR_CWD, &s->ctx) !=
	    LY_SUCCESS)
		return vl_err(&init_err, VOUCHER_E_CONFIG, NULL,
		              "cannot create a libyang context for %s", dir);
	for (int k = VOUCHER_KIND_VOUCHER; k <= VOUCHER_KIND_REQUEST; k++) {
		const char *name = modules[set][k].module, *rev = modules[set][k].revision;
		mods[k] = ly_ctx_load_module(s->ctx, name, rev, NULL);
		if (mods[k] == NULL)
			return vl_err(&init_err, VOUCHER_E_CONFIG, NULL,
			              "cannot load YANG module %s@%s from %s: %s", name, rev, dir,
			              ly_msg(s->ctx));
	}
	/* Only now look at compiled nodes: loading a module recompiles the
	 * whole context, which frees what an earlier lookup returned. */
	for (int k = VOUCHER_KIND_VOUCHER; k <= VOUCHER_KIND_REQUEST; k++) {
		const char *name = modules[set][k].module, *rev = modules[set][k].revision;
		s->ext[k] = find_ext(mods[k], modules[set][k].ext_name, modules[set][k].ext_arg);
		if (s->ext[k] == NULL)
			return vl_err(&init_err, VOUCHER_E_CONFIG, NULL, "%s@%s has no %s \"%s\"",
			              name, rev, modules[set][k].ext_name, modules[set][k].ext_arg);
		voucher_err r = check_schema(s, (enum voucher_kind)k, name);
		if (r != VOUCHER_OK)
			return r;
	}
	return VOUCHER_OK;
}

/* Read an RFC 9595 .sid file (JSON) and fill the SIDs of one kind. */
static voucher_err load_sids(enum voucher_kind kind, const char *dir)
{
	const char *module = modules[SET_BIS][kind].module;
	char path[4096];
	voucher_err r = VOUCHER_E_CONFIG;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s@%s.sid", dir, module,
	                     modules[SET_BIS][kind].revision) >= sizeof(path))
		return vl_err(&init_err, VOUCHER_E_CONFIG, NULL, "YANG directory path too long");
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return vl_err(&init_err, VOUCHER_E_CONFIG, NULL, "cannot read SID file %s: %s",
		              path, jerr.text);
	json_t *items = json_object_get(json_object_get(root, "ietf-sid-file:sid-file"), "item");
	if (!json_is_array(items)) {
		vl_err(&init_err, VOUCHER_E_CONFIG, NULL, "%s: no \"item\" list", path);
		goto out;
	}
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "/%s:voucher", module);
	size_t plen = strlen(prefix);
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		const char *ns = json_string_value(json_object_get(it, "namespace"));
		const char *id = json_string_value(json_object_get(it, "identifier"));
		json_t *sidv = json_object_get(it, "sid");
		uint64_t sid = 0;
		if (ns == NULL || id == NULL || strcmp(ns, "data") != 0)
			continue;
		if (json_is_string(sidv)) {
			if (brski_str_to_u64(json_string_value(sidv), &sid, UINT64_MAX) !=
			    VOUCHER_OK)
				sid = 0;
		} else if (json_is_integer(sidv) && json_integer_value(sidv) > 0) {
			sid = (uint64_t)json_integer_value(sidv);
		}
		if (sid == 0) {
			vl_err(&init_err, VOUCHER_E_CONFIG, NULL, "%s: bad sid for %s", path, id);
			goto out;
		}
		if (strcmp(id, prefix) == 0) {
			sid_root[kind] = sid;
		} else if (strncmp(id, prefix, plen) == 0 && id[plen] == '/') {
			enum voucher_leaf leaf = voucher_leaf_from_name(id + plen + 1);
			/* Leaves we do not model are not an error: a newer SID
			 * file may list more than the modules we validate with. */
			if (leaf != VOUCHER_LEAF_COUNT && voucher_leaf_in_kind(leaf, kind))
				sid_leaf[kind][leaf] = sid;
		}
	}
	if (sid_root[kind] == 0) {
		vl_err(&init_err, VOUCHER_E_CONFIG, NULL, "%s: no SID for %s", path, prefix);
		goto out;
	}
	for (int l = 0; l < VOUCHER_LEAF_COUNT; l++) {
		if (!voucher_leaf_in_kind((enum voucher_leaf)l, kind))
			continue;
		if (sid_leaf[kind][l] <= sid_root[kind]) {
			vl_err(&init_err, VOUCHER_E_CONFIG, vl_leaves[l].name,
			       "%s: no SID (above the container's) for %s", path,
			       vl_leaves[l].name);
			goto out;
		}
		for (int m = 0; m < l; m++)
			if (sid_leaf[kind][m] == sid_leaf[kind][l]) {
				vl_err(&init_err, VOUCHER_E_CONFIG, vl_leaves[l].name,
				       "%s: %s and %s share a SID", path, vl_leaves[m].name,
				       vl_leaves[l].name);
				goto out;
			}
	}
	r = VOUCHER_OK;
out:
	json_decref(root);
	return r;
}

static void init_all(void)
{
	const char *dir = yang_dir();
	uint32_t opts = LY_LOSTORE_LAST;
	voucher_err r = VOUCHER_OK;
	ly_temp_log_options(&opts);
	for (int set = 0; set < SET_COUNT && r == VOUCHER_OK; set++)
		r = load_set(set, dir);
	for (int k = VOUCHER_KIND_VOUCHER; k <= VOUCHER_KIND_REQUEST && r == VOUCHER_OK; k++)
		r = load_sids((enum voucher_kind)k, dir);
	ly_temp_log_options(NULL);
	if (r == VOUCHER_OK)
		return;
	/* Keep the error for every later caller; the contexts are unusable. */
	for (int set = 0; set < SET_COUNT; set++) {
		ly_ctx_destroy(sets[set].ctx);
		memset(&sets[set], 0, sizeof(sets[set]));
	}
}

voucher_err vl_schemas_get(struct voucher_error_info *e)
{
	pthread_once(&init_once, init_all);
	if (init_err.code == VOUCHER_OK)
		return VOUCHER_OK;
	if (e != NULL)
		*e = init_err;
	return init_err.code;
}

voucher_err voucher_lib_init(struct voucher_error_info *err)
{
	vl_err_clear(err);
	return vl_schemas_get(err);
}

static const struct schema_set *set_for(unsigned flags)
{
	return &sets[(flags & VOUCHER_F_LEGACY) ? SET_LEGACY : SET_BIS];
}

bool vl_schema_has_leaf(unsigned flags, enum voucher_kind kind, enum voucher_leaf leaf)
{
	if ((unsigned)kind >= NKIND || (unsigned)leaf >= VOUCHER_LEAF_COUNT)
		return false;
	return set_for(flags)->has_leaf[kind][leaf];
}

bool vl_schema_binary_opaque(unsigned flags, enum voucher_kind kind, enum voucher_leaf leaf)
{
	if ((unsigned)kind >= NKIND || (unsigned)leaf >= VOUCHER_LEAF_COUNT)
		return false;
	return set_for(flags)->bin_opaque[kind][leaf];
}

bool vl_schema_has_assertion(unsigned flags, enum voucher_kind kind, int value)
{
	if ((unsigned)kind >= NKIND || value < 0 || value > 3)
		return false;
	return set_for(flags)->has_assertion[kind][value];
}

int vl_schema_assertion_value(unsigned flags, enum voucher_kind kind, const char *name)
{
	for (int v = 0; v < 4; v++) {
		const char *n = voucher_assertion_name((enum voucher_assertion)v);
		if (n != NULL && strcmp(n, name) == 0 && vl_schema_has_assertion(flags, kind, v))
			return v;
	}
	return -1;
}

uint64_t vl_sid_root(enum voucher_kind kind)
{
	return (unsigned)kind < NKIND ? sid_root[kind] : 0;
}

uint64_t vl_sid_leaf(enum voucher_kind kind, enum voucher_leaf leaf)
{
	if ((unsigned)kind >= NKIND || (unsigned)leaf >= VOUCHER_LEAF_COUNT)
		return 0;
	return sid_leaf[kind][leaf];
}

enum voucher_leaf vl_sid_to_leaf(enum voucher_kind kind, uint64_t sid)
{
	if ((unsigned)kind >= NKIND || sid == 0)
		return VOUCHER_LEAF_COUNT;
	for (int l = 0; l < VOUCHER_LEAF_COUNT; l++)
		if (sid_leaf[kind][l] == sid)
			return (enum voucher_leaf)l;
	return VOUCHER_LEAF_COUNT;
}

/* The last path segment of a libyang location ("Data location
 * \"/ietf-voucher:voucher/nonce\", line number 1.") without its prefix. */
static void member_from_path(const char *path, char *out, size_t outlen)
{
	out[0] = 0;
	if (path == NULL)
		return;
	const char *q = strchr(path, '"');
	if (q == NULL)
		return;
	const char *end = strchr(q + 1, '"');
	if (end == NULL)
		return;
	const char *seg = q + 1;
	for (const char *p = q + 1; p < end; p++)
		if (*p == '/')
			seg = p + 1;
	const char *colon = memchr(seg, ':', (size_t)(end - seg));
	if (colon != NULL)
		seg = colon + 1;
	snprintf(out, outlen, "%.*s", (int)(end - seg), seg);
}

/* The first quoted word of a message ("Node \"bogus\" not found ..."). */
static void quoted(const char *msg, char *out, size_t outlen)
{
	out[0] = 0;
	const char *q = strchr(msg, '"');
	const char *end = q ? strchr(q + 1, '"') : NULL;
	if (end != NULL)
		snprintf(out, outlen, "%.*s", (int)(end - q - 1), q + 1);
}

/* Turn libyang's last error into a voucher_err that names the member.
 * libyang 2.1 has only coarse validation codes (LYVE_DATA for nearly
 * everything), so the kind of failure is read from its message. */
static voucher_err map_ly_error(const struct ly_ctx *ctx, enum voucher_kind kind,
                                struct voucher_error_info *e)
{
	const struct ly_err_item *it = ly_err_last(ctx);
	const char *msg = it != NULL && it->msg != NULL ? it->msg : "validation failed";
	char member[64];
	voucher_err code = VOUCHER_E_SCHEMA;
	member_from_path(it ? it->path : NULL, member, sizeof(member));
	if (strncmp(msg, "Node \"", 6) == 0 && strstr(msg, "not found") != NULL) {
		code = VOUCHER_E_UNKNOWN_MEMBER;
		quoted(msg, member, sizeof(member));
	} else if (strncmp(msg, "Mandatory node \"", 16) == 0) {
		code = VOUCHER_E_MISSING;
		quoted(msg, member, sizeof(member));
	} else if (strstr(msg, "Base64") != NULL) {
		code = VOUCHER_E_BAD_BASE64;
	} else if (strncmp(msg, "Invalid non-", 12) == 0) {
		code = VOUCHER_E_BAD_TYPE;
	} else if (strncmp(msg, "Duplicate instance", 18) == 0) {
		code = VOUCHER_E_DUPLICATE;
	}
	if (member[0] == 0 || strcmp(member, "voucher") == 0)
		return vl_err(e, code, member[0] ? member : NULL, "%s: %s", vl_root_name(kind),
		              msg);
	return vl_err(e, code, member, "%s: %s", member, msg);
}

voucher_err vl_schema_validate(unsigned flags, enum voucher_kind kind, const char *json,
                               struct voucher_error_info *e)
{
	voucher_err r = vl_schemas_get(e);
	if (r != VOUCHER_OK)
		return r;
	if (kind != VOUCHER_KIND_VOUCHER && kind != VOUCHER_KIND_REQUEST)
		return vl_err(e, VOUCHER_EINVAL, NULL, "unknown artifact kind");
	const struct schema_set *s = set_for(flags);
	struct ly_in *in = NULL;
	struct lyd_node *tree = NULL;
	uint32_t opts = LY_LOSTORE_LAST;
	ly_temp_log_options(&opts);
	ly_err_clean(s->ctx, NULL);
	if (ly_in_new_memory(json, &in) != LY_SUCCESS) {
		r = vl_err(e, VOUCHER_ENOMEM, NULL, "out of memory");
		goto out;
	}
	if (lyd_parse_ext_data(s->ext[kind], NULL, in, LYD_JSON, LYD_PARSE_STRICT,
	                       LYD_VALIDATE_PRESENT, &tree) != LY_SUCCESS)
		r = map_ly_error(s->ctx, kind, e);
out:
	lyd_free_all(tree);
	ly_in_free(in, 0);
	ly_err_clean(s->ctx, NULL);
	ly_temp_log_options(NULL);
	return r;
}
