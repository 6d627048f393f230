"""Health of the camera network: picture diagnosis (VQD), KPIs against the plans, fault work orders, reports."""
