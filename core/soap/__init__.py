"""What both SOAP services share: the zeep-over-httpx transport, the call runner that turns
wire trouble into typed errors, and the base of the simulators that stand in for them.

e-Boekhouden and PerfectView are both ASP.NET ASMX services; keeping this in one place
means a fix to timeouts, error classification or fault injection lands for both.
"""
