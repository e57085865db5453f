/*
 * The settings every HTTPS request cloudregd makes shares (to the MASA,
 * to the ACME server): https only, redirects not followed, the peer's
 * certificate and name always verified.
 */
#ifndef CREG_HTTPS_H
#define CREG_HTTPS_H

#include <curl/curl.h>

/* Point h at url with those settings; trust is the PEM file of anchors
 * (NULL: the system's). Call after curl_easy_reset or on a new handle. */
void creg_https_setup(CURL *h, const char *url, const char *trust);

#endif
