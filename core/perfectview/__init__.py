"""The PerfectView CRM Online adapter: pvsync's WSDL of the service, the client that speaks
it (client.py, with catalog.py for the database's metadata and fields.py for where each
attribute lives), and the simulator that stands in for the service in tests and the demo."""
