<%@ Page language="c#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.Logoff" %>
<!-- exsweep test fixture: shaped like the OWA sign-out page -->
<html><body>You have signed out.</body></html>
