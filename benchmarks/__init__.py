"""
Load scripts that compare twisted-ice with coturn in the same run.
"""
