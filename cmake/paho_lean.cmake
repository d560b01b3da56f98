# Whether the daemon links Debian's static Paho archive (libpaho-mqtt3a.a)
# with gateway/paho_lean.c for tcp:// brokers: Paho without its stack tracing
# and heap tracking (gateway/paho_lean.c says why). SB_PAHO_LEAN is ON, OFF
# or AUTO (the default): AUTO links it when the archive passes the checks
# below and otherwise loads the shared library at run time, as an OFF build
# does; ON makes a failed check an error.
#
# The shim is correct only for an archive like the one it was written
# against (Debian 12's libpaho-mqtt-dev 1.3.12-1), so the archive found is
# checked on three counts, none of which needs dpkg or runs target code
# (cross builds included):
#  1. its members (`ar t`) are exactly those of 1.3.12's libpaho-mqtt3a.a:
#     a Paho that moved code between files, or another build of Paho (the
#     TLS one, an upstream build with other options) differs here;
#  2. the symbols its other members take from StackTrace.c.o and Heap.c.o
#     (`nm`) are exactly the seven the shim defines: one more (say
#     Heap_get_info called by MQTTAsync.c.o) would link the tracking
#     Heap.c.o next to the shim, one fewer means the tracing changed;
#  3. the version it was built as, the "MQTTAsyncV3_Version" string in
#     MQTTAsync.c.o, is 1.3.11 or 1.3.12 (Debian's 1.3.12-1 says 1.3.11,
#     the number in the source it was built from).
# Where dpkg knows the archive, its package must moreover be version 1.3.12
# (dpkg-query -S finds the package, of the target architecture when cross
# compiling since the archive is that architecture's). The structural checks
# are what the shim's correctness rests on; the versions name what was
# verified (and go into --version).
#
# Sets SB_PAHO_LEAN_USE (TRUE/FALSE), SB_PAHO_ARCHIVE and SB_PAHO_LEAN_DESC
# (one line saying which Paho is linked).

set(SB_PAHO_LEAN AUTO CACHE STRING "Link Debian's static Paho without its tracing for tcp:// (ON, OFF, AUTO)")
set_property(CACHE SB_PAHO_LEAN PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${SB_PAHO_LEAN}" _sb_lean)
if(NOT _sb_lean MATCHES "^(ON|OFF|AUTO|TRUE|FALSE|YES|NO|1|0)$")
  message(FATAL_ERROR "SB_PAHO_LEAN must be ON, OFF or AUTO, not '${SB_PAHO_LEAN}'")
endif()

set(SB_PAHO_LEAN_MEMBERS
  Base64.c.o Clients.c.o Heap.c.o LinkedList.c.o Log.c.o MQTTAsync.c.o MQTTAsyncUtils.c.o
  MQTTPacket.c.o MQTTPacketOut.c.o MQTTPersistence.c.o MQTTPersistenceDefault.c.o
  MQTTProperties.c.o MQTTProtocolClient.c.o MQTTProtocolOut.c.o MQTTReasonCodes.c.o
  MQTTTime.c.o Messages.c.o Proxy.c.o SHA1.c.o Socket.c.o SocketBuffer.c.o StackTrace.c.o
  Thread.c.o Tree.c.o WebSocket.c.o utf-8.c.o)
set(SB_PAHO_LEAN_REPLACED
  Heap_initialize Heap_terminate StackTrace_entry StackTrace_exit myfree mymalloc myrealloc)

# Checks ${archive}; sets ${why} to "" when it passes, else to the reason,
# and ${version} to what the checks found.
function(sb_paho_lean_check archive why version)
  set(${why} "" PARENT_SCOPE)
  if(NOT CMAKE_AR OR NOT CMAKE_NM)
    set(${why} "no ar or nm for the target (CMAKE_AR, CMAKE_NM)" PARENT_SCOPE)
    return()
  endif()
  execute_process(COMMAND ${CMAKE_AR} t ${archive} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_QUIET)
  if(NOT rc EQUAL 0)
    set(${why} "${CMAKE_AR} t ${archive} failed" PARENT_SCOPE)
    return()
  endif()
  string(REGEX REPLACE "\n$" "" out "${out}")
  string(REPLACE "\n" ";" members "${out}")
  list(SORT members)
  set(expected ${SB_PAHO_LEAN_MEMBERS})
  list(SORT expected)
  if(NOT members STREQUAL expected)
    set(${why} "its members are not those of Paho 1.3.12's libpaho-mqtt3a.a" PARENT_SCOPE)
    return()
  endif()

  # nm -g: "member.o:" headers, then "<value> <type> <name>" or "U <name>".
  execute_process(COMMAND ${CMAKE_NM} -g ${archive} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_QUIET)
  if(NOT rc EQUAL 0)
    set(${why} "${CMAKE_NM} -g ${archive} failed" PARENT_SCOPE)
    return()
  endif()
  string(REPLACE "\n" ";" lines "${out}")
  set(member "")
  set(defined "")
  set(used "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^(.+\\.o):$")
      set(member ${CMAKE_MATCH_1})
    elseif(line MATCHES "^ +U ([^ ]+)$")
      set(name ${CMAKE_MATCH_1})
      if(NOT member MATCHES "^(StackTrace|Heap)\\.c\\.o$")
        list(APPEND used ${name})
      endif()
    elseif(line MATCHES "^[0-9a-fA-F]+ [A-Z] ([^ ]+)$")
      set(name ${CMAKE_MATCH_1})
      if(member MATCHES "^(StackTrace|Heap)\\.c\\.o$")
        list(APPEND defined ${name})
      endif()
    endif()
  endforeach()
  set(taken "")
  foreach(s IN LISTS used)
    if(s IN_LIST defined)
      list(APPEND taken ${s})
    endif()
  endforeach()
  list(REMOVE_DUPLICATES taken)
  list(SORT taken)
  if(NOT taken STREQUAL SB_PAHO_LEAN_REPLACED)
    set(${why} "its other objects take [${taken}] from StackTrace.c.o and Heap.c.o, the shim replaces [${SB_PAHO_LEAN_REPLACED}]" PARENT_SCOPE)
    return()
  endif()

  file(STRINGS ${archive} eye REGEX "^MQTTAsyncV3_Version [0-9.]+$" LIMIT_COUNT 1)
  if(NOT eye MATCHES "^MQTTAsyncV3_Version (1\\.3\\.1[12])$")
    set(${why} "it says it is '${eye}', not Paho 1.3.11 or 1.3.12" PARENT_SCOPE)
    return()
  endif()
  set(found "Paho MQTT C (archive version ${CMAKE_MATCH_1})")

  find_program(SB_DPKG_QUERY dpkg-query)
  mark_as_advanced(SB_DPKG_QUERY)
  if(SB_DPKG_QUERY)
    get_filename_component(real ${archive} REALPATH)
    execute_process(COMMAND ${SB_DPKG_QUERY} -S ${real} RESULT_VARIABLE rc OUTPUT_VARIABLE pkg
                    ERROR_QUIET)
    if(rc EQUAL 0 AND pkg MATCHES "^([^:,]+(:[a-z0-9]+)?): ")
      set(pkg ${CMAKE_MATCH_1})
      execute_process(COMMAND ${SB_DPKG_QUERY} -W -f=\${Version} ${pkg} RESULT_VARIABLE rc
                      OUTPUT_VARIABLE ver ERROR_QUIET)
      if(NOT rc EQUAL 0 OR NOT ver MATCHES "^1\\.3\\.12-")
        set(${why} "it belongs to ${pkg} ${ver}, not to Paho 1.3.12" PARENT_SCOPE)
        return()
      endif()
      set(found "Paho MQTT C 1.3.12 (${pkg} ${ver})")
    endif()
  endif()
  set(${version} "${found}" PARENT_SCOPE)
endfunction()

set(SB_PAHO_LEAN_USE FALSE)
set(SB_PAHO_LEAN_DESC "")
if(_sb_lean MATCHES "^(OFF|FALSE|NO|0)$")
  message(STATUS "Paho: SB_PAHO_LEAN=OFF, loaded at run time (libpaho-mqtt3a.so.1, libpaho-mqtt3as.so.1)")
  return()
endif()
find_library(SB_PAHO_ARCHIVE NAMES libpaho-mqtt3a.a)
if(NOT SB_PAHO_ARCHIVE)
  set(_sb_why "libpaho-mqtt3a.a not found (libpaho-mqtt-dev)")
else()
  sb_paho_lean_check(${SB_PAHO_ARCHIVE} _sb_why _sb_version)
endif()
if(_sb_why)
  if(_sb_lean STREQUAL "AUTO")
    message(WARNING "Paho: not linking the static Paho for tcp:// brokers: ${SB_PAHO_ARCHIVE}: "
                    "${_sb_why}. Falling back to loading libpaho-mqtt3a.so.1 at run time "
                    "(with Paho's stack tracing and heap tracking).")
    return()
  endif()
  message(FATAL_ERROR "Paho: SB_PAHO_LEAN=ON, but ${SB_PAHO_ARCHIVE}: ${_sb_why}")
endif()
set(SB_PAHO_LEAN_USE TRUE)
set(SB_PAHO_LEAN_DESC "${_sb_version}, static, without stack tracing and heap tracking")
message(STATUS "Paho: ${SB_PAHO_LEAN_DESC} (${SB_PAHO_ARCHIVE} with gateway/paho_lean.c) "
               "for tcp://; libpaho-mqtt3as.so.1 loaded at run time for ssl://")
