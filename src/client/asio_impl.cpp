// Boost.Asio and Asio SSL compiled once, here (BOOST_ASIO_SEPARATE_COMPILATION
// is defined for every target that links rcache_client), so no other
// translation unit pays for their implementation.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
