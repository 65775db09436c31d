# Which internal headers a target may include.
#
# Public headers are include/rcache/ (rcache_resp's include directory; the
# only headers installed). Internal headers are src/<concept>/*.hpp, and a
# target sees those of the concepts it names here and no others: each
# concept's folder is reached through an include root of its own in the
# build tree (layers/<concept>/<concept> -> src/<concept>), so
# `#include "client/completion.hpp"` compiles only in a target that names
# `client`. The concepts' table is in src/CMakeLists.txt.
#
# rcache_layer(<target> [PUBLIC] <concept>...): PUBLIC passes the roots on
# to whoever links the target (for test support whose headers include
# internals); otherwise they are the target's own, plus those of the unit
# tests that link it (rcache_unit_test reads them back).
function(rcache_layer target)
  set(scope PRIVATE)
  set(concepts ${ARGN})
  if(concepts AND "${ARGV1}" STREQUAL "PUBLIC")
    set(scope PUBLIC)
    list(POP_FRONT concepts)
  endif()
  set(roots)
  foreach(concept IN LISTS concepts)
    if(NOT IS_DIRECTORY ${PROJECT_SOURCE_DIR}/src/${concept})
      message(FATAL_ERROR "rcache_layer(${target}): no concept src/${concept}")
    endif()
    set(root ${PROJECT_BINARY_DIR}/layers/${concept})
    if(NOT EXISTS ${root}/${concept})
      file(MAKE_DIRECTORY ${root})
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${concept} ${root}/${concept} SYMBOLIC)
    endif()
    list(APPEND roots ${root})
  endforeach()
  set_property(TARGET ${target} PROPERTY RCACHE_LAYER_ROOTS ${roots})
  # Build-tree paths: never part of the installed package (PRIVATE, or on
  # targets that are not installed).
  target_include_directories(${target} ${scope} ${roots})
endfunction()
