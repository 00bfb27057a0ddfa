"""Tests of the web console (client/console/)."""
