# packaging.cmake — the Debian packages pgvigil-collector and
# pgvigil-aggregator, built by CPack's DEB generator from one component each:
#
#   cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
#         -DPGVIGIL_PACKAGE=ON -DPGVIGIL_TESTS=OFF -DPGVIGIL_BENCH=OFF
#   cmake --build build-pkg -j2 && (cd build-pkg && cpack)
#
# PGVIGIL_PACKAGE=ON also compiles in the installed paths only (SQL, web
# files), so a package never reads from the tree it was built in. Depends:
# come from the shared libraries (dpkg-shlibdeps) plus procps (/bin/kill for
# the units' ExecReload) and adduser for the maintainer scripts (postinst.in, prerm.in, postrm.in beside this file),
# which create the system user pgvigil and its state directory. Included at
# the end of the top-level CMakeLists.txt; tests/packaging/ builds, lints,
# installs and runs the packages.
if(NOT PGVIGIL_PACKAGE)
    return()
endif()
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    message(FATAL_ERROR "PGVIGIL_PACKAGE needs -DCMAKE_INSTALL_PREFIX=/usr (got ${CMAKE_INSTALL_PREFIX})")
endif()

set(pkg_src ${CMAKE_SOURCE_DIR}/deploy/packaging)
set(pkg_out ${CMAKE_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${pkg_out})
execute_process(COMMAND gzip -9nc ${pkg_src}/changelog OUTPUT_FILE ${pkg_out}/changelog.gz
                RESULT_VARIABLE gz_rc)
if(NOT gz_rc EQUAL 0)
    message(FATAL_ERROR "could not gzip ${pkg_src}/changelog")
endif()

# civetweb also dlopens the unversioned "libcrypto.so", which only libssl-dev
# provides; a link beside the libssl.so shim (lib/pgvigil, on the
# aggregator's RPATH) to the real library keeps HTTPS working without it.
file(REAL_PATH ${LIBCRYPTO_LIBDIR}/libcrypto.so crypto_real)
file(RELATIVE_PATH crypto_rel ${CMAKE_INSTALL_PREFIX}/lib/pgvigil ${crypto_real})
file(CREATE_LINK ${crypto_rel} ${pkg_out}/libcrypto.so SYMBOLIC)
install(FILES ${pkg_out}/libcrypto.so DESTINATION lib/pgvigil COMPONENT aggregator)

foreach(daemon collector aggregator)
    set(PKG pgvigil-${daemon})
    set(DAEMON ${daemon})
    file(MAKE_DIRECTORY ${pkg_out}/${daemon})
    foreach(script postinst prerm postrm)
        configure_file(${pkg_src}/${script}.in ${pkg_out}/${daemon}/${script} @ONLY
                       FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                                        GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
    endforeach()
    file(WRITE ${pkg_out}/${daemon}/conffiles "/etc/pgvigil/${daemon}.yaml\n")
    install(FILES ${pkg_src}/${daemon}.yaml DESTINATION /etc/pgvigil COMPONENT ${daemon})
    install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/pgvigil-${daemon}.service
            DESTINATION /lib/systemd/system COMPONENT ${daemon})
    install(FILES ${pkg_src}/copyright ${pkg_out}/changelog.gz
            DESTINATION share/doc/pgvigil-${daemon} COMPONENT ${daemon})
    install(FILES ${CMAKE_SOURCE_DIR}/deploy/${daemon}.example.yaml
            DESTINATION share/doc/pgvigil-${daemon}/examples COMPONENT ${daemon})
    string(TOUPPER ${daemon} C)
    set(CPACK_DEBIAN_${C}_PACKAGE_NAME pgvigil-${daemon})
    set(CPACK_DEBIAN_${C}_PACKAGE_CONTROL_EXTRA
        "${pkg_out}/${daemon}/postinst;${pkg_out}/${daemon}/prerm;${pkg_out}/${daemon}/postrm;${pkg_out}/${daemon}/conffiles")
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pgvigil)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "pgvigil maintainers <pgvigil@example.org>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL collector aggregator)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# procps: /bin/kill, which the units' ExecReload runs.
set(CPACK_DEBIAN_COLLECTOR_PACKAGE_DEPENDS "adduser, procps")
set(CPACK_DEBIAN_AGGREGATOR_PACKAGE_DEPENDS "adduser, procps")
set(CPACK_DEBIAN_COLLECTOR_DESCRIPTION
"PostgreSQL fleet monitor - collector
pgvigil watches a fleet of PostgreSQL servers. The collector runs beside one
PostgreSQL instance, reads its statistics (replication, activity, tables,
statements, backups) on a schedule and publishes them to one or more pgvigil
aggregators over ZeroMQ, optionally encrypted with CURVE.

This package holds the collector, its systemd unit and its configuration.")
set(CPACK_DEBIAN_AGGREGATOR_DESCRIPTION
"PostgreSQL fleet monitor - aggregator
pgvigil watches a fleet of PostgreSQL servers. The aggregator receives the
samples of every collector, computes replication lag across the fleet, keeps
history in PostgreSQL, evaluates alert rules and notifies receivers (webhook,
Slack, PagerDuty, e-mail, SMS), and serves an HTTP API and a dashboard.

This package holds the aggregator, its dashboard files and SQL migrations,
its systemd unit and its configuration.")
include(CPack)
