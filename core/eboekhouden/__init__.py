"""The e-Boekhouden.nl adapter: pvsync's WSDL of the SOAP service, the client every
feature uses, the limits records are checked against, and the simulator it is proven on."""
