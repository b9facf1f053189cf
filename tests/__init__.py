"""
Tests for twisted-ice.
"""
