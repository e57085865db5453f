/* The shared HTTPS settings of cloudregd's clients (cloudreg/https.h). */
#include <config.h>

#include "cloudreg/https.h"

void creg_https_setup(CURL *h, const char *url, const char *trust)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	/* a redirect is an answer to report, never to follow blindly */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	/* threads: no SIGALRM for timeouts */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (trust) {
		curl_easy_setopt(h, CURLOPT_CAINFO, trust);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
}
