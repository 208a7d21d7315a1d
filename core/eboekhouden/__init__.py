"""The e-Boekhouden.nl side: one port the sync jobs use (port.py), two adapters behind it
(soap/: username and security codes; rest/: an API token), the limits records are checked
against, the administration both simulators serve, and the errors both adapters raise."""
