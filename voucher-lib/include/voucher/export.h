/* Symbol visibility for libvoucher: the library builds with
 * -fvisibility=hidden and exports only what is marked VOUCHER_API. */
#ifndef VOUCHER_EXPORT_H
#define VOUCHER_EXPORT_H

#if defined(VOUCHER_BUILDING) && defined(__GNUC__)
#define VOUCHER_API __attribute__((visibility("default")))
#else
#define VOUCHER_API
#endif

#endif
