"""e-Boekhouden's SOAP API: pvsync's WSDL of it, the client (username and security codes),
the translation between the domain and the SOAP shapes, and the simulator of the service."""
