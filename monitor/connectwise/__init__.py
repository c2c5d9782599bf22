"""The one HTTP seam to ConnectWise Manage (client, collect) and the pure normalizer."""
