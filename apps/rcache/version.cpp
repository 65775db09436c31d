// `rcache version`: the version and the libraries it was built with.
#include <rcache/version.hpp>

#include <boost/version.hpp>
#include <iostream>
#include <openssl/opensslv.h>

#include "command.hpp"

namespace rcache::app {

command add_version(CLI::App& app) {
  auto* cli =
      app.add_subcommand("version", "Print the version and the libraries it was built with");
  return {cli, [] {
            std::cout << "rcache " << version_string << " (Boost " << BOOST_VERSION / 100000 << "."
                      << BOOST_VERSION / 100 % 1000 << "." << BOOST_VERSION % 100 << ", "
                      << OPENSSL_VERSION_TEXT << ")\n";
            return 0;
          }};
}

}  // namespace rcache::app
