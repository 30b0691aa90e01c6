<%@ Page language="c#" AutoEventWireup="false" Inherits="Microsoft.Exchange.HttpProxy.Logon" %>
<%@ Import namespace="Microsoft.Exchange.Clients"%>
<%@ Import namespace="Microsoft.Exchange.Clients.Owa.Core"%>
<%@ Import namespace="Microsoft.Exchange.HttpProxy"%>
<%@ Import namespace="System.Globalization"%>
<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN">
<!-- exsweep test fixture: shaped like an OWA sign-in page, written for the false-positive suite -->
<html>
<head>
<meta http-equiv="X-UA-Compatible" content="IE=10" />
<meta http-equiv="Content-Type" content="text/html; CHARSET=utf-8">
<meta name="robots" content="noindex, nofollow">
<title><%=Strings.GetLocalizedString(Strings.IDs.OutlookWebApp)%></title>
<link rel="shortcut icon" href="<%=InlineImageFlag ? "" : ResourcePath %>favicon.ico" type="image/x-icon">
<link type="text/css" rel="stylesheet" href="<%=ResourcePath%>logon.css">
<script type="text/javascript" src="<%=ResourcePath%>flogon.js"></script>
<script type="text/javascript">
    var a_fRC = 1;
    var g_fFcs = 1;
    var a_fLOff = 0;
    var a_fCAC = 0;
    var a_fEnbSMm = 1;
    function clkLgn()
    {
        var oForm = document.forms["logonForm"];
        if (oForm.username.value.length == 0) { oForm.username.focus(); return false; }
        setCookie("PrivateComputer", oForm.trusted.checked ? "true" : "false");
        oForm.submit();
        return true;
    }
    function setCookie(name, value)
    {
        document.cookie = name + "=" + encodeURIComponent(value) + "; path=/";
    }
    function checkInput(e)
    {
        // Submit on Enter; keep the page free of eval and inline handlers.
        if (e && e.keyCode == 13) { clkLgn(); }
    }
</script>
</head>
<body class="signInBg" onload="if (g_fFcs) document.forms['logonForm'].username.focus();">
<noscript><div id="dvErr"><%=Strings.GetLocalizedString(Strings.IDs.NoScript)%></div></noscript>
<form action="/owa/auth.owa" method="POST" name="logonForm" ENCTYPE="application/x-www-form-urlencoded" autocomplete="off">
<input type="hidden" name="destination" value="<%=Destination%>">
<input type="hidden" name="flags" value="4">
<input type="hidden" name="forcedownlevel" value="0">
<div id="mainLogonDiv" class="mouse">
  <div class="sidebar"><div class="owaLogoContainer"><img src="<%=ResourcePath%>owa_text_blue.png" class="owaLogo" aria-hidden="true" /></div></div>
  <div class="logonContainer">
    <div id="lgnDiv" class="logonDiv" onKeyPress="return checkInput(event);">
      <div class="signInImageHeader" role="heading"><%=Strings.GetLocalizedString(Strings.IDs.Signin)%></div>
      <div class="signInInputLabel" id="userNameLabel" aria-hidden="true"><%=Strings.GetLocalizedString(Strings.IDs.UserNameLabel)%></div>
      <div><input id="username" name="username" placeholder="domain\user name" class="signInInputText" role="textbox" /></div>
      <div class="signInInputLabel" id="passwordLabel" aria-hidden="true"><%=Strings.GetLocalizedString(Strings.IDs.PasswordLabel)%></div>
      <div><input id="password" onfocus="g_fFcs=0" name="password" value="" type="password" class="signInInputText" aria-labelledby="passwordLabel"/></div>
      <div class="showPasswordCheck signInCheckBoxText"><input type="checkbox" id="showPasswordCheck" class="chk"/><span><%=Strings.GetLocalizedString(Strings.IDs.ShowPassword)%></span></div>
      <div class="signInCheckBoxText"><input type="checkbox" id="trusted" name="trusted" value="4" class="chk" /><%=Strings.GetLocalizedString(Strings.IDs.PrivateComputer)%></div>
      <div class="signInEnter"><div onclick="clkLgn()" class="signinbutton" role="button" tabIndex="0"><%=Strings.GetLocalizedString(Strings.IDs.SignIn)%></div></div>
      <% if (Request.QueryString["reason"] == "2") { %>
      <div id="signInErrorDiv" class="signInError" role="alert"><%=Strings.GetLocalizedString(Strings.IDs.InvalidUserNameOrPassword)%></div>
      <% } %>
    </div>
  </div>
</div>
</form>
</body>
</html>
