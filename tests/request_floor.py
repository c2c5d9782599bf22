"""The reads a steady integration-mode check makes (the request floor of issue 16), written out
here rather than derived from the code under test, for the tests that count requests."""

FLOOR = frozenset(
    {
        "/system/mySecurity",
        "/system/apiMembers",
        "/finance/accountingPackageSetup",
        "/finance/glCaptions",
        "/system/mySecurity/customizeItems/",
    }
)
