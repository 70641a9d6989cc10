"""The IVR service: greets callers on FreeSWITCH's outbound socket, runs the
menu, and hands the call to the routing service's queue."""
