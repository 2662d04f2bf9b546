# man.cmake — the man pages pgvigil-collector(8) and pgvigil-aggregator(8),
# made at build time by help2man from one source: each program's own --help
# text (the single description of its subcommands and options, kept in
# main.c) plus deploy/man/pgvigil.h2m for the sections both share (files,
# configuration errors, see also). Installed gzipped under share/man/man8.
# Included from the top-level CMakeLists.txt; skipped with a note when
# help2man is missing (deploy/install-deps.sh installs it).
find_program(HELP2MAN help2man)
find_program(GZIP gzip)
if(NOT HELP2MAN OR NOT GZIP)
    message(STATUS "help2man not found: man pages are not built (deploy/install-deps.sh installs it)")
    return()
endif()

set(PGVIGIL_MAN_DIR ${CMAKE_BINARY_DIR}/man)
file(MAKE_DIRECTORY ${PGVIGIL_MAN_DIR})
set(PGVIGIL_MAN_PAGES)
foreach(daemon collector aggregator)
    if(NOT TARGET pgvigil-${daemon})
        continue()
    endif()
    if(daemon STREQUAL collector)
        set(what "read PostgreSQL statistics and publish them to pgvigil aggregators")
    else()
        set(what "receive samples from pgvigil collectors, alert, and serve the API and dashboard")
    endif()
    set(page ${PGVIGIL_MAN_DIR}/pgvigil-${daemon}.8)
    # help2man stamps the page with the date; SOURCE_DATE_EPOCH keeps it
    # reproducible (the changelog's date).
    add_custom_command(
        OUTPUT ${page}.gz
        COMMAND ${CMAKE_COMMAND} -E env SOURCE_DATE_EPOCH=1795953600 ASAN_OPTIONS=detect_leaks=0
                ${HELP2MAN} --no-info --section=8 --name=${what}
                --include=${CMAKE_SOURCE_DIR}/deploy/man/pgvigil.h2m
                --output=${page} $<TARGET_FILE:pgvigil-${daemon}>
        COMMAND ${GZIP} -9nf ${page}
        DEPENDS pgvigil-${daemon} ${CMAKE_SOURCE_DIR}/deploy/man/pgvigil.h2m
        COMMENT "help2man pgvigil-${daemon}.8"
        VERBATIM)
    list(APPEND PGVIGIL_MAN_PAGES ${page}.gz)
    install(FILES ${page}.gz DESTINATION share/man/man8 COMPONENT ${daemon})
endforeach()
add_custom_target(pgvigil_man_pages ALL DEPENDS ${PGVIGIL_MAN_PAGES})
