/*
 * The public header compiles on its own: it is the first and only include,
 * and this file is built with -std=c11 -pedantic -Werror (voucher-lib/model.inc).
 * The companion script check-header-prefix.sh checks the names it declares.
 */
#include <voucher/voucher.h>

int main(void)
{
	struct voucher_error_info e = {0};
	enum voucher_leaf l = VOUCHER_LEAF_SERIAL_NUMBER;
	/* no config.h, no libyang/jansson/libcbor headers were needed */
	return voucher_leaf_from_name(voucher_leaf_name(l)) == l && e.code == VOUCHER_OK ? 0 : 1;
}
