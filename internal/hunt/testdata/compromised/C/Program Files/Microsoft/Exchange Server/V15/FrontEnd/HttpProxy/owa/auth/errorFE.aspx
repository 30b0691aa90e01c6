<%@ Page Language="C#" AutoEventWireup="true" Inherits="Microsoft.Exchange.HttpProxy.ErrorFE" %>
<%@ Import Namespace="System.Web" %>
<%@ Import Namespace="Microsoft.Exchange.HttpProxy" %>
<!DOCTYPE html>
<!-- exsweep test fixture: shaped like the front-end error page (errorFE.aspx?httpCode=500) -->
<script runat="server">
    protected string ErrorTitle = "Something went wrong";
    protected string ErrorDetail = "";
    protected void Page_Load(object sender, EventArgs e)
    {
        int code;
        string raw = Request.QueryString["httpCode"];
        if (!int.TryParse(raw, out code)) { code = 500; }
        Response.StatusCode = code;
        Response.TrySkipIisCustomErrors = true;
        switch (code)
        {
            case 404: ErrorTitle = "The page you requested was not found."; break;
            case 503: ErrorTitle = "The service is temporarily unavailable."; break;
        }
        ErrorDetail = HttpUtility.HtmlEncode(Request.Headers["X-FEServer"] ?? Environment.MachineName);
        Response.Write("<!-- " + DateTime.UtcNow.ToString("o") + " -->");
    }
</script>
<html dir="ltr">
<head>
    <meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
    <meta name="robots" content="noindex, nofollow">
    <title>Outlook</title>
    <style>
        body { font-family: "Segoe UI", "Segoe WP", Tahoma, Arial, sans-serif; margin: 0; }
        .errorHeader { font-size: xx-large; margin: 40px 0 10px 40px; }
        .errorDetails { margin-left: 40px; color: #666; }
    </style>
</head>
<body>
    <div class="errorHeader"><%= ErrorTitle %></div>
    <div class="errorDetails">X-FEServer: <%= ErrorDetail %></div>
    <div class="errorDetails"><a href="/owa/">Refresh the page</a></div>
</body>
</html>
