/*
 * civetweb_ssl.c — a "libssl.so" for civetweb's dlopen.
 *
 * Debian 12's civetweb loads "libssl.so" at run time and looks up the
 * OpenSSL 1.1 function names; OpenSSL 3 renamed SSL_get_peer_certificate to
 * SSL_get1_peer_certificate (the old name is only a macro), so the lookup
 * fails and HTTPS cannot start (civetweb issue #1334). This library defines
 * that one name and depends on the real libssl.so.3, where dlsym finds
 * everything else. The aggregator's DT_RPATH points at its directory, so
 * civetweb's dlopen("libssl.so") finds it first; nothing else loads it.
 */
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate
X509 *SSL_get_peer_certificate(const SSL *s);

X509 *SSL_get_peer_certificate(const SSL *s)
{
    return SSL_get1_peer_certificate(s);
}
