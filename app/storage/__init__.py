"""Object storage: the store interface and its providers (Swift v1, Keystone v3, Rackspace
identity, pyrax), signing, start-up preparation and readiness. The only code that talks to
storage."""
